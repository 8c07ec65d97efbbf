/**
 * A userspace GICv3 (Arm IHI 0069) as pure logic: a distributor, one redistributor and one CPU
 * interface per CPU, without LPIs or an ITS. A simulated CPU reaches the distributor and
 * redistributor frames through `distributorFor(cpu)` / `redistributorsFor(cpu)` — kvmts bus
 * Devices for its loads and stores — and its ICC_* system registers through `readSysReg` /
 * `writeSysReg` (by name or encoding). Input lines come in through `setSpi` / `setPpi`; each
 * CPU's IRQ (Group 1) and FIQ (Group 0) outputs are reported through `onOutput` when they change.
 *
 * Its state is the state KVM's vGICv3 has, in the same split (./frames.ts, 'user' view), which
 * is what lets the mux (../kernel/gic-mux.ts) hand an in-kernel GIC to it and back.
 */
import { ConfigError, type AccessSize, type Device, type HighWord } from '@kvmts/core';
import { GIC_PPI_BASE, GIC_SPI_BASE, intidKind } from '../intid';
import { checkNrIrqs } from '../kernel/v3-state-table';
import type { SysRegEncoding } from '../kernel/v3-attr';
import { GicV3CpuInterfaces, iccName, ICC_ACTION_REGISTERS } from './cpu-interface';
import { GicV3Frames, GicV3FrameState, type GicV3Identity, type GicV3View } from './frames';
import { GicV3Interrupts, routeAffinity, type GicV3Geometry } from './interrupts';
import { GICD_FRAME_BYTES, GICR_DOUBLE_REGISTERS, GICR_FRAME_BYTES, Gicd, GICD_PER_INTID, perIntidAt } from './registers';

export type GicV3OutputListener = (cpu: number, line: 'irq' | 'fiq', level: boolean) => void;

export interface GicV3ModelOptions {
  /** MPIDR_EL1 of each CPU, in CPU order (1–the GIC's redistributor count). */
  readonly mpidrs: readonly bigint[];
  /** INTIDs including SGIs and PPIs: 64–992 in steps of 32 (KVM's NR_IRQS). */
  readonly nrIrqs: number;
  /** Implemented priority bits, 5–8. Default 5 (KVM's vGICv3). */
  readonly priorityBits?: number;
  /** Identification registers; default: the values this geometry implies (see defaultGicV3Identity). */
  readonly identity?: GicV3Identity;
  readonly onOutput?: GicV3OutputListener;
}

/** GICD_IIDR / GICR_IIDR of KVM's vGICv3 (implementer Arm 0x43B, product 0x4B), revision 3. */
export const KVM_GICV3_IIDR = 0x4b00_343b;

/**
 * What a GIC of this geometry reports: GICD_TYPER with ITLinesNumber = nrIrqs/32 − 1 and
 * IDbits 9 (10-bit INTIDs, no LPIs); GICR_TYPER with the CPU's affinity (63:32), its processor
 * number (23:8) and Last (bit 4) on the final redistributor.
 */
export function defaultGicV3Identity(mpidrs: readonly bigint[], nrIrqs: number): GicV3Identity {
  return {
    gicdTyper: (nrIrqs / 32 - 1) | (9 << 19),
    gicdIidr: KVM_GICV3_IIDR,
    gicrIidr: KVM_GICV3_IIDR & 0xff00_0fff,
    gicrTypers: mpidrs.map((m, i) => {
      const aff = routeAffinity(m);
      return (((aff >> 32n) << 24n) | (aff & 0xff_ffffn)) << 32n | (BigInt(i) << 8n) | (i === mpidrs.length - 1 ? 0x10n : 0n);
    }),
  };
}

function checkedGeometry(o: GicV3ModelOptions): GicV3Geometry {
  if (!Array.isArray(o.mpidrs) || o.mpidrs.length === 0 || o.mpidrs.some((m) => typeof m !== 'bigint' || m < 0n)) throw new ConfigError('gicv3.mpidrs', 'must list the MPIDR_EL1 (a bigint) of each CPU, at least one');
  if (new Set(o.mpidrs.map(routeAffinity)).size !== o.mpidrs.length) throw new ConfigError('gicv3.mpidrs', 'two CPUs have the same affinity');
  const priorityBits = o.priorityBits ?? 5;
  if (!Number.isInteger(priorityBits) || priorityBits < 5 || priorityBits > 8) throw new ConfigError('gicv3.priorityBits', `a GICv3 implements 5–8 priority bits, not ${priorityBits}`);
  return { mpidrs: [...o.mpidrs], nrIrqs: checkNrIrqs(o.nrIrqs), priorityBits };
}

/** Accesses a frame serves: aligned 4-byte words everywhere, bytes in IPRIORITYR, 8 bytes on 64-bit registers. */
type SizeRule = (offset: number, size: AccessSize) => boolean;

export class GicV3Model {
  readonly geometry: GicV3Geometry;
  readonly interrupts: GicV3Interrupts;
  readonly cpuInterfaces: GicV3CpuInterfaces;
  readonly frames: GicV3Frames;
  private readonly onOutput: GicV3OutputListener | undefined;
  private readonly outputs: Uint8Array;

  constructor(options: GicV3ModelOptions) {
    this.geometry = checkedGeometry(options);
    this.interrupts = new GicV3Interrupts(this.geometry);
    const state = new GicV3FrameState(this.geometry.mpidrs.length, options.identity ?? defaultGicV3Identity(this.geometry.mpidrs, this.geometry.nrIrqs));
    this.cpuInterfaces = new GicV3CpuInterfaces(this.interrupts, () => state.gicdCtlr);
    this.frames = new GicV3Frames(this.interrupts, state, this.cpuInterfaces.priorityMask);
    this.onOutput = options.onOutput;
    this.outputs = new Uint8Array(2 * this.geometry.mpidrs.length);
  }

  get cpus(): number {
    return this.geometry.mpidrs.length;
  }

  /** Drive SPI `intid`'s input line (edge: a rising edge pends it; level: pending while high). */
  setSpi(intid: number, level: boolean): void {
    if (intidKind(intid) !== 'spi' || intid >= this.geometry.nrIrqs) throw new ConfigError('intid', `this GIC's SPIs are INTIDs ${GIC_SPI_BASE}–${this.geometry.nrIrqs - 1}, not ${intid}`);
    this.interrupts.setLine(this.interrupts.slot(0, intid), level);
    this.update();
  }

  /** Drive PPI `intid` (16–31) of CPU `cpu`. */
  setPpi(cpu: number, intid: number, level: boolean): void {
    if (intidKind(intid) !== 'ppi') throw new ConfigError('intid', `PPIs are INTIDs ${GIC_PPI_BASE}–${GIC_SPI_BASE - 1}, not ${intid}`);
    this.interrupts.setLine(this.interrupts.slot(cpu, intid), level);
    this.update();
  }

  /** A 32-bit distributor register as a CPU's load sees it ('guest') or as KVM's attributes do ('user'). */
  readDistributor(offset: number, view: GicV3View = 'guest'): number {
    return this.frames.readDistributor(offset, view);
  }

  writeDistributor(offset: number, value: number, view: GicV3View = 'guest'): void {
    this.frames.writeDistributor(offset, value, view);
    this.update();
  }

  /** A 32-bit register of CPU `cpu`'s redistributor (SGI_base registers at 0x10000 + offset). */
  readRedistributor(cpu: number, offset: number, view: GicV3View = 'guest'): number {
    this.checkCpu(cpu);
    return this.frames.readRedistributor(cpu, offset, view);
  }

  writeRedistributor(cpu: number, offset: number, value: number, view: GicV3View = 'guest'): void {
    this.checkCpu(cpu);
    this.frames.writeRedistributor(cpu, offset, value, view);
    this.update();
  }

  /**
   * CPU `cpu`'s MRS of an ICC register (by name, e.g. 'ICC_IAR1_EL1', or encoding): reading
   * ICC_IAR0/1_EL1 acknowledges; ICC_HPPIR0/1_EL1 and ICC_RPR_EL1 have no side effects.
   */
  readSysReg(cpu: number, register: string | SysRegEncoding): bigint {
    this.checkCpu(cpu);
    const name = typeof register === 'string' ? register : iccName(register);
    const c = this.cpuInterfaces;
    switch (name) {
      case 'ICC_IAR0_EL1':
      case 'ICC_IAR1_EL1': {
        const intid = c.acknowledge(cpu, name === 'ICC_IAR1_EL1' ? 1 : 0);
        this.update();
        return BigInt(intid);
      }
      case 'ICC_HPPIR0_EL1':
        return BigInt(c.hppir(cpu, 0));
      case 'ICC_HPPIR1_EL1':
        return BigInt(c.hppir(cpu, 1));
      case 'ICC_RPR_EL1':
        return BigInt(c.runningPriority(cpu));
      case 'ICC_EOIR0_EL1':
      case 'ICC_EOIR1_EL1':
      case 'ICC_DIR_EL1':
      case 'ICC_SGI1R_EL1':
        return 0n; // write-only
    }
    return c.get(cpu, name);
  }

  /** CPU `cpu`'s MSR to an ICC register: EOIR0/1 and DIR complete interrupts, SGI1R raises SGIs, the rest are state. */
  writeSysReg(cpu: number, register: string | SysRegEncoding, value: bigint): void {
    this.checkCpu(cpu);
    const name = typeof register === 'string' ? register : iccName(register);
    const c = this.cpuInterfaces;
    const intid = Number(value & 0xff_ffffn);
    switch (name) {
      case 'ICC_EOIR0_EL1':
      case 'ICC_EOIR1_EL1':
        c.endOfInterrupt(cpu, name === 'ICC_EOIR1_EL1' ? 1 : 0, intid);
        break;
      case 'ICC_DIR_EL1':
        c.deactivate(cpu, intid);
        break;
      case 'ICC_SGI1R_EL1':
        c.generateSgi1(cpu, value);
        break;
      default:
        if (name in ICC_ACTION_REGISTERS) return; // read-only: IAR, HPPIR, RPR
        c.guestWrite(cpu, name, value);
    }
    this.update();
  }

  /** ICC_IAR1_EL1 (acknowledge the highest-priority Group 1 interrupt): its INTID, or 1023. */
  acknowledge(cpu: number): number {
    return Number(this.readSysReg(cpu, 'ICC_IAR1_EL1'));
  }

  /** ICC_EOIR1_EL1 with `intid`. */
  endOfInterrupt(cpu: number, intid: number): void {
    this.writeSysReg(cpu, 'ICC_EOIR1_EL1', BigInt(intid));
  }

  /** The levels of CPU `cpu`'s IRQ (a Group 1 interrupt is signalled) and FIQ (Group 0) outputs. */
  output(cpu: number): { irq: boolean; fiq: boolean } {
    this.checkCpu(cpu);
    const h = this.cpuInterfaces.hppi(cpu);
    const on = h !== undefined && this.cpuInterfaces.signalled(cpu, h);
    return { irq: on && h.group === 1, fiq: on && h.group === 0 };
  }

  /** The distributor frame as CPU `cpu` accesses it (a bus Device of GICD_FRAME_BYTES). */
  distributorFor(cpu: number): Device {
    this.checkCpu(cpu);
    const rule: SizeRule = (offset, size) => size === 4 || (size === 1 && this.isPriorityByte(offset)) || (size === 8 && this.isRouteRegister(offset));
    return this.frameDevice(`gicv3 distributor (CPU ${cpu})`, GICD_FRAME_BYTES, rule, (o) => this.readDistributor(o), (o, v) => this.writeDistributor(o, v));
  }

  /** Every redistributor (GICR_FRAME_BYTES each, in CPU order) as CPU `cpu` accesses them. */
  redistributorsFor(cpu: number): Device {
    this.checkCpu(cpu);
    const rule: SizeRule = (offset, size) => {
      const within = offset % GICR_FRAME_BYTES;
      return size === 4 || (size === 1 && within >= 0x1_0400 && within < 0x1_0420) || (size === 8 && GICR_DOUBLE_REGISTERS.includes(within));
    };
    const split = (o: number) => [Math.floor(o / GICR_FRAME_BYTES), o % GICR_FRAME_BYTES] as const;
    return this.frameDevice(
      `gicv3 redistributors (CPU ${cpu})`,
      GICR_FRAME_BYTES * this.cpus,
      rule,
      (o) => this.readRedistributor(...split(o)),
      (o, v) => this.writeRedistributor(...split(o), v),
    );
  }

  /** Re-evaluate every CPU's outputs and report those that changed. */
  update(): void {
    if (this.onOutput === undefined) return;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      const o = this.output(cpu);
      (['irq', 'fiq'] as const).forEach((line, i) => {
        const level = line === 'irq' ? o.irq : o.fiq;
        if ((this.outputs[2 * cpu + i] === 1) !== level) {
          this.outputs[2 * cpu + i] = level ? 1 : 0;
          this.onOutput!(cpu, line, level);
        }
      });
    }
  }

  private isPriorityByte(offset: number): boolean {
    const at = perIntidAt(GICD_PER_INTID, offset & ~3, this.geometry.nrIrqs);
    return at?.reg.behaviour.kind === 'field' && at.reg.behaviour.field === 'priority';
  }

  private isRouteRegister(offset: number): boolean {
    return offset >= Gicd.IROUTER && offset < Gicd.IROUTER + 8 * this.geometry.nrIrqs && offset % 8 === 0;
  }

  /**
   * A frame as a bus Device. Sizes the frame does not serve are RAZ/WI; a byte access is a
   * read-modify-write of its word's field (only IPRIORITYR has byte fields, each independent);
   * an 8-byte access is the low word then the high word.
   */
  private frameDevice(name: string, bytes: number, rule: SizeRule, read: (o: number) => number, write: (o: number, v: number) => void): Device {
    const served = (offset: number, size: AccessSize) => offset >= 0 && offset + size <= bytes && offset % size === 0 && rule(offset, size);
    return {
      name,
      read: (offset: number, size: AccessSize, out: HighWord): number => {
        out.high = 0;
        if (!served(offset, size)) return 0;
        if (size === 1) return (read(offset & ~3) >>> (8 * (offset & 3))) & 0xff;
        if (size === 8) out.high = read(offset + 4);
        return read(offset);
      },
      write: (offset: number, size: AccessSize, value: number, valueHigh: number): void => {
        if (!served(offset, size)) return;
        if (size === 1) {
          const shift = 8 * (offset & 3);
          const word = read(offset & ~3);
          write(offset & ~3, ((word & ~(0xff << shift)) | ((value & 0xff) << shift)) >>> 0);
          return;
        }
        write(offset, value >>> 0);
        if (size === 8) write(offset + 4, valueHigh >>> 0);
      },
    };
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new ConfigError('cpu', `the GIC has CPUs 0–${this.cpus - 1}, not ${cpu}`);
  }
}
