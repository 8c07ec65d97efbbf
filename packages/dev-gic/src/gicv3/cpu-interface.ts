/**
 * The GICv3 CPU interfaces (Arm IHI 0069, chapters 4.8 and 12.2): each CPU's ICC_* registers and
 * the behaviour a simulated CPU needs from them — the highest-priority pending interrupt,
 * acknowledge (ICC_IAR0/1_EL1), priority drop and deactivation (ICC_EOIR0/1_EL1, ICC_DIR_EL1),
 * the priority mask, binary points and running priority, and SGIs (ICC_SGI1R_EL1).
 *
 * The state registers are the ones KVM's vGICv3 moves (GICV3_ICC_REGISTERS); the model keeps
 * them as KVM's attributes present them — ICC_PMR_EL1 as the 8-bit mask, ICC_AP<g>R<n>_EL1 as
 * active-priority bitmaps with bit k standing for priority k << (8 − min(PRIbits, 7)).
 */
import { ConfigError } from '@kvmts/core';
import { GIC_SPI_BASE, GIC_SPURIOUS_INTID } from '../intid';
import { activePriorityRegisters, GICV3_ICC_REGISTERS } from '../kernel/v3-state-table';
import { sysRegField, type SysRegEncoding } from '../kernel/v3-attr';
import { GicdCtlr } from './registers';
import type { GicV3Interrupts } from './interrupts';

/** ICC_CTLR_EL1 bits the guest may write, and the read-only fields the model reports. */
export const IccCtlr = {
  CBPR: 1n << 0n,
  EOIMODE: 1n << 1n,
  PRIBITS_SHIFT: 8n,
  /** Affinity 3 valid: SGI1R's Aff3 field is used. */
  A3V: 1n << 15n,
} as const;
/** ICC_SRE_EL1 as a GICv3 with only the system-register interface reads it: SRE, DFB, DIB set. */
export const ICC_SRE_VALUE = 0x7n;

/** The ICC registers that are not state (they act): their encodings, for a simulated CPU's MRS/MSR. */
const icc = (crm: number, op2: number): SysRegEncoding => ({ op0: 3, op1: 0, crn: 12, crm, op2 });
export const ICC_ACTION_REGISTERS: Readonly<Record<string, SysRegEncoding>> = {
  ICC_IAR0_EL1: icc(8, 0),
  ICC_EOIR0_EL1: icc(8, 1),
  ICC_HPPIR0_EL1: icc(8, 2),
  ICC_IAR1_EL1: icc(12, 0),
  ICC_EOIR1_EL1: icc(12, 1),
  ICC_HPPIR1_EL1: icc(12, 2),
  ICC_DIR_EL1: icc(11, 1),
  ICC_RPR_EL1: icc(11, 3),
  ICC_SGI1R_EL1: icc(11, 5),
};

/** Every ICC register name by its 16-bit encoding field (op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2). */
const NAME_BY_ENCODING: ReadonlyMap<number, string> = new Map([
  ...GICV3_ICC_REGISTERS.map((r) => [sysRegField(r.encoding), r.name] as const),
  ...Object.entries(ICC_ACTION_REGISTERS).map(([name, e]) => [sysRegField(e), name] as const),
]);

/** The name of the ICC register with encoding `e` (ConfigError for a register that is not the GIC's). */
export function iccName(e: SysRegEncoding): string {
  const name = NAME_BY_ENCODING.get(sysRegField(e));
  if (name === undefined) throw new ConfigError('system register', `S${e.op0}_${e.op1}_C${e.crn}_C${e.crm}_${e.op2} is not a GICv3 CPU interface register`);
  return name;
}

/** The candidate an interrupt is for a CPU. */
export interface Hppi {
  readonly intid: number;
  readonly priority: number;
  readonly group: 0 | 1;
}

const STATE_NAMES = new Set(GICV3_ICC_REGISTERS.map((r) => r.name));

export class GicV3CpuInterfaces {
  /** State registers of each CPU by name (ICC_SRE_EL1 … ICC_AP1R3_EL1), as KVM's attributes hold them. */
  readonly regs: Map<string, bigint>[];
  /** Active-priority bits kept: 32 × activePriorityRegisters(PRIbits) per group. */
  private readonly apBits: number;
  /** Priority bits used by the active-priority registers: min(PRIbits, 7). */
  private readonly apPrecision: number;
  /** The implemented priority bits as a mask (5 bits: 0xf8). */
  readonly priorityMask: number;

  constructor(
    private readonly irqs: GicV3Interrupts,
    private readonly distributorCtlr: () => number,
  ) {
    const p = irqs.geometry.priorityBits;
    this.apBits = 32 * activePriorityRegisters(p);
    this.apPrecision = Math.min(p, 7);
    this.priorityMask = (0xff << (8 - p)) & 0xff;
    this.regs = Array.from({ length: irqs.cpus }, () => new Map());
    this.reset();
  }

  /** Power-on values: interface groups disabled, everything masked (PMR 0), binary points at their minimum. */
  reset(): void {
    const p = this.irqs.geometry.priorityBits;
    for (const r of this.regs) {
      for (const name of STATE_NAMES) r.set(name, 0n);
      r.set('ICC_SRE_EL1', ICC_SRE_VALUE);
      r.set('ICC_CTLR_EL1', (BigInt(p - 1) << IccCtlr.PRIBITS_SHIFT) | IccCtlr.A3V);
      r.set('ICC_BPR0_EL1', BigInt(this.minBpr0()));
      r.set('ICC_BPR1_EL1', BigInt(this.minBpr0() + 1));
    }
  }

  /** The smallest BPR0 a CPU interface with these priority bits has (7 − PRIbits: all implemented bits group priority). */
  private minBpr0(): number {
    return 7 - this.irqs.geometry.priorityBits;
  }

  /** A state register as stored (KVM's attribute view). */
  get(cpu: number, name: string): bigint {
    const v = this.cpuRegs(cpu).get(name);
    if (v === undefined) throw new ConfigError('ICC register', `${name} is not a state register of the GICv3 CPU interface`);
    return v;
  }

  /** Set a state register exactly (KVM's attribute view: userspace writes what it saved). */
  set(cpu: number, name: string, value: bigint): void {
    this.get(cpu, name);
    this.cpuRegs(cpu).set(name, BigInt.asUintN(64, value));
  }

  private cpuRegs(cpu: number): Map<string, bigint> {
    const r = this.regs[cpu];
    if (r === undefined) throw new ConfigError('cpu', `the GIC has CPU interfaces 0–${this.regs.length - 1}, not ${cpu}`);
    return r;
  }

  /** A guest's MSR to a state register: only the architecturally writable bits take. */
  guestWrite(cpu: number, name: string, value: bigint): void {
    const r = this.cpuRegs(cpu);
    switch (name) {
      case 'ICC_SRE_EL1':
        return; // SRE, DFB, DIB are RAO/WI: the system-register interface is the only one
      case 'ICC_CTLR_EL1':
        r.set(name, (this.get(cpu, name) & ~(IccCtlr.CBPR | IccCtlr.EOIMODE)) | (value & (IccCtlr.CBPR | IccCtlr.EOIMODE)));
        return;
      case 'ICC_IGRPEN0_EL1':
      case 'ICC_IGRPEN1_EL1':
        r.set(name, value & 1n);
        return;
      case 'ICC_PMR_EL1':
        r.set(name, value & BigInt(this.priorityMask));
        return;
      case 'ICC_BPR0_EL1':
        r.set(name, BigInt(Math.max(Number(value & 7n), this.minBpr0())));
        return;
      case 'ICC_BPR1_EL1':
        r.set(name, BigInt(Math.max(Number(value & 7n), this.minBpr0() + 1)));
        return;
      default:
        this.set(cpu, name, value & 0xffff_ffffn); // ICC_AP<g>R<n>_EL1
    }
  }

  /** The group priority of `priority` for group `group` under the CPU's binary point (CBPR: group 1 uses BPR0). */
  groupPriority(cpu: number, priority: number, group: 0 | 1): number {
    const cbpr = (this.get(cpu, 'ICC_CTLR_EL1') & IccCtlr.CBPR) !== 0n;
    const mask = group === 0 || cbpr ? 0xff << (Number(this.get(cpu, 'ICC_BPR0_EL1')) + 1) : 0xff << Number(this.get(cpu, 'ICC_BPR1_EL1'));
    return priority & mask & this.priorityMask;
  }

  /** ICC_RPR_EL1: the highest active group priority (the lowest bit set in either group's active priorities), 0xff when none is active. */
  runningPriority(cpu: number): number {
    const k = this.lowestActiveBit(cpu, 0);
    const k1 = this.lowestActiveBit(cpu, 1);
    const lowest = Math.min(k, k1);
    return lowest === Infinity ? 0xff : lowest << (8 - this.apPrecision);
  }

  private apName(group: 0 | 1, n: number): string {
    return `ICC_AP${group}R${n}_EL1`;
  }

  private lowestActiveBit(cpu: number, group: 0 | 1): number {
    for (let n = 0; n < this.apBits / 32; n++) {
      const w = Number(this.get(cpu, this.apName(group, n)) & 0xffff_ffffn);
      if (w !== 0) return n * 32 + (31 - Math.clz32(w & -w));
    }
    return Infinity;
  }

  private setActiveBit(cpu: number, group: 0 | 1, bit: number, on: boolean): void {
    const name = this.apName(group, bit >> 5);
    const mask = 1n << BigInt(bit & 31);
    const w = this.get(cpu, name);
    this.set(cpu, name, on ? w | mask : w & ~mask);
  }

  /** The highest-priority pending interrupt the distributor forwards to `cpu` (ties: the lowest INTID), or undefined. */
  hppi(cpu: number): Hppi | undefined {
    const irqs = this.irqs;
    const ctlr = this.distributorCtlr();
    let best: Hppi | undefined;
    const consider = (intid: number, slot: number) => {
      if (!irqs.enabled[slot] || irqs.active[slot] || !irqs.isPending(slot)) return;
      const group = irqs.group[slot] ? 1 : 0;
      if (!(ctlr & (group === 1 ? GicdCtlr.ENABLE_GRP1 : GicdCtlr.ENABLE_GRP0))) return;
      const priority = irqs.priority[slot] & this.priorityMask;
      if (best === undefined || priority < best.priority) best = { intid, priority, group };
    };
    for (let intid = 0; intid < GIC_SPI_BASE; intid++) consider(intid, irqs.slot(cpu, intid));
    for (let intid = GIC_SPI_BASE; intid < irqs.geometry.nrIrqs; intid++) {
      if (irqs.spiTargets(intid).includes(cpu)) consider(intid, irqs.slot(cpu, intid));
    }
    return best;
  }

  /** Whether `h` is signalled to the CPU: its group enabled in the interface, above the priority mask, and preempting what is active. */
  signalled(cpu: number, h: Hppi): boolean {
    if ((this.get(cpu, h.group === 1 ? 'ICC_IGRPEN1_EL1' : 'ICC_IGRPEN0_EL1') & 1n) === 0n) return false;
    if (h.priority >= Number(this.get(cpu, 'ICC_PMR_EL1') & 0xffn)) return false;
    return this.groupPriority(cpu, h.priority, h.group) < this.runningPriority(cpu);
  }

  /** ICC_HPPIR<group>_EL1: the HPPI's INTID if it is of `group`, else 1023 (no side effects). */
  hppir(cpu: number, group: 0 | 1): number {
    const h = this.hppi(cpu);
    return h !== undefined && h.group === group ? h.intid : GIC_SPURIOUS_INTID;
  }

  /**
   * ICC_IAR<group>_EL1: acknowledge the signalled HPPI of `group` — its pending latch clears (a
   * level interrupt whose line is high stays pending: active and pending), it becomes active,
   * and its group priority becomes the running priority. 1023 when nothing of `group` is signalled.
   */
  acknowledge(cpu: number, group: 0 | 1): number {
    const h = this.hppi(cpu);
    if (h === undefined || h.group !== group || !this.signalled(cpu, h)) return GIC_SPURIOUS_INTID;
    const slot = this.irqs.slot(cpu, h.intid);
    this.irqs.latch[slot] = 0;
    this.irqs.active[slot] = 1;
    this.setActiveBit(cpu, group, this.groupPriority(cpu, h.priority, group) >> (8 - this.apPrecision), true);
    return h.intid;
  }

  /**
   * ICC_EOIR<group>_EL1: drop the running priority (the highest active priority of `group`) and,
   * with ICC_CTLR_EL1.EOImode 0, deactivate `intid`. Special INTIDs (1020–1023) are ignored.
   */
  endOfInterrupt(cpu: number, group: 0 | 1, intid: number): void {
    if (intid >= 1020 && intid <= GIC_SPURIOUS_INTID) return;
    const bit = this.lowestActiveBit(cpu, group);
    if (bit !== Infinity) this.setActiveBit(cpu, group, bit, false);
    if ((this.get(cpu, 'ICC_CTLR_EL1') & IccCtlr.EOIMODE) === 0n) this.deactivate(cpu, intid);
  }

  /** ICC_DIR_EL1 (EOImode 1): deactivate `intid`. */
  deactivate(cpu: number, intid: number): void {
    if (intid >= 1020 && intid <= GIC_SPURIOUS_INTID) return;
    if (intid >= this.irqs.geometry.nrIrqs) return; // not an implemented interrupt: ignored
    this.irqs.active[this.irqs.slot(cpu, intid)] = 0;
  }

  /**
   * ICC_SGI1R_EL1 from `cpu`: make SGI INTID pending on every target — all CPUs but the sender
   * (IRM, bit 40), or the CPUs of affinity Aff3.Aff2.Aff1 whose Aff0 is RS × 16 + a bit set in
   * TargetList — where that SGI is configured Group 1 (a single security state: a Group 0 SGI
   * takes ICC_SGI0R_EL1).
   */
  generateSgi1(cpu: number, value: bigint): void {
    const field = (shift: bigint, mask: bigint) => Number((value >> shift) & mask);
    const intid = field(24n, 0xfn);
    const mpidrs = this.irqs.geometry.mpidrs;
    let targets: number[];
    if (field(40n, 1n)) targets = mpidrs.map((_, i) => i).filter((i) => i !== cpu);
    else {
      const upper = (BigInt(field(48n, 0xffn)) << 32n) | (BigInt(field(32n, 0xffn)) << 16n) | (BigInt(field(16n, 0xffn)) << 8n);
      const list = field(0n, 0xffffn);
      const rs = field(44n, 0xfn);
      targets = [];
      mpidrs.forEach((m, i) => {
        const aff0 = Number(m & 0xffn) - rs * 16;
        const up = ((m >> 32n) & 0xffn) << 32n | (m & 0xff_ff00n);
        if (up === upper && aff0 >= 0 && aff0 < 16 && (list >> aff0) & 1) targets.push(i);
      });
    }
    for (const t of targets) {
      const slot = this.irqs.slot(t, intid);
      if (this.irqs.group[slot]) this.irqs.latch[slot] = 1;
    }
  }
}
