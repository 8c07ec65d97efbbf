/**
 * Copy the state of KVM's vGICv3 out of the kernel and back, driven by the tables in
 * ./v3-state-table.ts: the distributor, each vCPU's redistributor and CPU interface, the line
 * levels of level-sensitive interrupts (LEVEL_INFO), and each ITS. Every access goes through
 * the device fd while no vCPU runs (KVM answers EBUSY otherwise).
 *
 * What is not here, and why: GICD_TYPER/GICR_TYPER/GITS_TYPER are compared, not written (they
 * describe the GIC's make-up); LPI pending bits and ITS translation tables live in guest memory,
 * put there by SAVE_PENDING_TABLES / ITS_SAVE_TABLES before the memory is saved (see
 * ./vgic-v3-checkpoint.ts).
 */
import { CheckpointError } from '@kvmts/core';
import { Arm64VgicCtrl, Arm64VgicGroup } from '@kvmts/arch-arm64';
import { GIC_SPI_BASE } from '../intid';
import { cpuSysRegAttr, distRegAttr, itsRegAttr, levelInfoAttr, redistRegAttr } from './v3-attr';
import {
  GICV3_DIST_REGISTERS,
  GICV3_ITS_REGISTERS,
  GICV3_REDIST_RD_REGISTERS,
  GICV3_REDIST_SGI_REGISTERS,
  ITS_CTLR,
  checkNrIrqs,
  clearWords,
  iccPriorityBits,
  iccRegistersFor,
  registerWords,
  type GicMmioRegister,
  type RestorePhase,
} from './v3-state-table';

/** Device-attribute access (KvmDevice has exactly these). */
export interface DeviceAttrIo {
  getAttr(group: number, attr: bigint | number): bigint;
  setAttr(group: number, attr: bigint | number, value?: bigint | number): void;
  hasAttr(group: number, attr: bigint | number): boolean;
}

/** What fixes the shape of a vGICv3's state: its interrupt count and its vCPUs' MPIDRs, in vCPU order. */
export interface VgicV3Layout {
  readonly nrIrqs: number;
  readonly mpidrs: readonly bigint[];
}

/** Words of each MMIO register, by name (rows the running KVM does not implement are absent). */
export type RegisterWords = Record<string, number[]>;

export interface VgicV3CpuState {
  readonly mpidr: bigint;
  readonly redistributor: RegisterWords;
  /** LEVEL_INFO of INTIDs 0–31 of this vCPU (PPI line levels; SGI bits are RAZ). */
  readonly privateLineLevels: number;
  /** ICC_* by name (u64). */
  readonly cpuInterface: Record<string, bigint>;
}

export interface VgicV3State {
  readonly nrIrqs: number;
  readonly distributor: RegisterWords;
  /** LEVEL_INFO words of the SPIs: [0] is INTIDs 32–63, [1] 64–95, … */
  readonly spiLineLevels: number[];
  readonly cpus: VgicV3CpuState[];
}

export interface ItsState {
  /** GITS_* by name (u64), GITS_CTLR included. */
  readonly registers: Record<string, bigint>;
}

const U32 = 0xffff_ffffn;
const G = Arm64VgicGroup;
const SECTION = 'gic.vgic-v3';

function incompatible(what: string, message: string): CheckpointError {
  return new CheckpointError(`${SECTION} ${what}`, message, { code: 'incompatible' });
}

type Frame = 'dist' | 'rd' | 'sgi';

/** How one frame's words are addressed. */
interface FrameIo {
  readonly frame: Frame;
  readonly group: number;
  attr(offset: number): bigint;
}

const distFrame: FrameIo = { frame: 'dist', group: G.DIST_REGS, attr: distRegAttr };
const redistFrame = (frame: 'rd' | 'sgi', mpidr: bigint): FrameIo => ({ frame, group: G.REDIST_REGS, attr: (o) => redistRegAttr(mpidr, o) });

function readRows(io: DeviceAttrIo, f: FrameIo, rows: readonly GicMmioRegister[], nrIrqs: number): RegisterWords {
  const out: RegisterWords = {};
  for (const row of rows) {
    const words = registerWords(row, f.frame, nrIrqs);
    if (!io.hasAttr(f.group, f.attr(words[0]))) continue; // not implemented by this KVM: nothing to carry
    out[row.name] = words.map((o) => Number(io.getAttr(f.group, f.attr(o)) & U32));
  }
  return out;
}

function writeRows(io: DeviceAttrIo, f: FrameIo, rows: readonly GicMmioRegister[], phase: RestorePhase, nrIrqs: number, saved: RegisterWords, where: string): void {
  for (const row of rows) {
    if (row.phase !== phase) continue;
    const values = saved[row.name];
    if (values === undefined) continue; // the saving KVM did not implement it
    const words = registerWords(row, f.frame, nrIrqs);
    if (values.length !== words.length || !values.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff)) {
      throw incompatible(`${where} ${row.name}`, `holds ${values.length} words, a GIC with ${nrIrqs} interrupts has ${words.length} 32-bit words`);
    }
    if (!io.hasAttr(f.group, f.attr(words[0]))) throw incompatible(`${where} ${row.name}`, 'was saved, but this KVM does not implement it: restore on a host with the same kernel');
    if (row.restore === 'compare') {
      const now = words.map((o) => Number(io.getAttr(f.group, f.attr(o)) & U32));
      const hex = (ws: number[]) => ws.map((w) => `0x${w.toString(16)}`).join(' ');
      if (now.some((w, i) => w !== values[i])) throw incompatible(`${where} ${row.name}`, `reads ${hex(now)} here, ${hex(values)} when saved: the GIC is built differently (interrupts, vCPUs, ITS)`);
      continue;
    }
    if (row.restore === 'value-if-changed') {
      // Both halves of a 64-bit register are compared first: a write of either half sanitises the whole register.
      if (words.every((o, i) => Number(io.getAttr(f.group, f.attr(o)) & U32) === values[i])) continue;
    }
    if (row.restore === 'set-after-clear') for (const o of clearWords(row, f.frame, nrIrqs)) io.setAttr(f.group, f.attr(o), U32);
    words.forEach((o, i) => io.setAttr(f.group, f.attr(o), values[i]));
  }
}

function checkLayout(layout: VgicV3Layout, state: VgicV3State): void {
  if (state.nrIrqs !== layout.nrIrqs) throw incompatible('nrIrqs', `was ${state.nrIrqs} when saved, this vGIC has ${layout.nrIrqs}`);
  if (state.cpus.length !== layout.mpidrs.length) throw incompatible('cpus', `${state.cpus.length} CPU interfaces saved, this vGIC has ${layout.mpidrs.length}`);
  state.cpus.forEach((c, i) => {
    if (c.mpidr !== layout.mpidrs[i]) throw incompatible(`cpus[${i}]`, `vCPU ${i} had MPIDR 0x${c.mpidr.toString(16)}, here 0x${layout.mpidrs[i].toString(16)}: create the vCPUs in the same order`);
  });
  if (state.spiLineLevels.length !== (layout.nrIrqs - GIC_SPI_BASE) / 32) throw incompatible('spiLineLevels', `${state.spiLineLevels.length} words for ${layout.nrIrqs} interrupts`);
}

/** The whole vGICv3 state (the vCPUs must not be running). */
export function saveVgicV3(io: DeviceAttrIo, layout: VgicV3Layout): VgicV3State {
  const nrIrqs = checkNrIrqs(layout.nrIrqs);
  const vcpu0 = layout.mpidrs[0];
  const spiLineLevels: number[] = [];
  for (let v = GIC_SPI_BASE; v < nrIrqs; v += 32) spiLineLevels.push(Number(io.getAttr(G.LEVEL_INFO, levelInfoAttr(vcpu0, v)) & U32));
  return {
    nrIrqs,
    distributor: readRows(io, distFrame, GICV3_DIST_REGISTERS, nrIrqs),
    spiLineLevels,
    cpus: layout.mpidrs.map((mpidr) => {
      const ctlr = io.getAttr(G.CPU_SYSREGS, cpuSysRegAttr(mpidr, { op0: 3, op1: 0, crn: 12, crm: 12, op2: 4 }));
      const cpuInterface: Record<string, bigint> = {};
      for (const r of iccRegistersFor(iccPriorityBits(ctlr))) cpuInterface[r.name] = io.getAttr(G.CPU_SYSREGS, cpuSysRegAttr(mpidr, r.encoding));
      return {
        mpidr,
        redistributor: { ...readRows(io, redistFrame('rd', mpidr), GICV3_REDIST_RD_REGISTERS, nrIrqs), ...readRows(io, redistFrame('sgi', mpidr), GICV3_REDIST_SGI_REGISTERS, nrIrqs) },
        privateLineLevels: Number(io.getAttr(G.LEVEL_INFO, levelInfoAttr(mpidr, 0)) & U32),
        cpuInterface,
      };
    }),
  };
}

/**
 * Put `state` back into a vGICv3 created with the same NR_IRQS, addresses and vCPUs (in the
 * same order) and initialised (CTRL_INIT), before any vCPU runs. Order: the tables' (IIDR
 * first, configuration before state), the line levels between configuration and pending bits.
 */
export function restoreVgicV3(io: DeviceAttrIo, layout: VgicV3Layout, state: VgicV3State): void {
  checkLayout(layout, state);
  const { nrIrqs } = layout;
  writeRows(io, distFrame, GICV3_DIST_REGISTERS, 'config', nrIrqs, state.distributor, 'distributor');
  state.spiLineLevels.forEach((w, i) => io.setAttr(G.LEVEL_INFO, levelInfoAttr(layout.mpidrs[0], GIC_SPI_BASE + 32 * i), w));
  writeRows(io, distFrame, GICV3_DIST_REGISTERS, 'state', nrIrqs, state.distributor, 'distributor');
  for (const [i, cpu] of state.cpus.entries()) {
    const where = `redistributor ${i}`;
    const rd = redistFrame('rd', cpu.mpidr);
    const sgi = redistFrame('sgi', cpu.mpidr);
    writeRows(io, rd, GICV3_REDIST_RD_REGISTERS, 'config', nrIrqs, cpu.redistributor, where);
    writeRows(io, sgi, GICV3_REDIST_SGI_REGISTERS, 'config', nrIrqs, cpu.redistributor, where);
    io.setAttr(G.LEVEL_INFO, levelInfoAttr(cpu.mpidr, 0), cpu.privateLineLevels);
    writeRows(io, sgi, GICV3_REDIST_SGI_REGISTERS, 'state', nrIrqs, cpu.redistributor, where);
  }
  for (const [i, cpu] of state.cpus.entries()) {
    const ctlr = cpu.cpuInterface.ICC_CTLR_EL1;
    if (typeof ctlr !== 'bigint') throw incompatible(`cpu interface ${i}`, 'has no ICC_CTLR_EL1');
    for (const r of iccRegistersFor(iccPriorityBits(ctlr))) {
      const v = cpu.cpuInterface[r.name];
      if (typeof v !== 'bigint') throw incompatible(`cpu interface ${i} ${r.name}`, 'is missing');
      io.setAttr(G.CPU_SYSREGS, cpuSysRegAttr(cpu.mpidr, r.encoding), v);
    }
  }
}

/** Every GIC register as KVM reports it now, by a name per word ('GICD_IPRIORITYR+0x420', 'cpu0 ICC_PMR_EL1'): for comparing two vGICs. */
export function readVgicV3Registers(io: DeviceAttrIo, layout: VgicV3Layout): Record<string, bigint> {
  const s = saveVgicV3(io, layout);
  const out: Record<string, bigint> = {};
  const flat = (prefix: string, rows: readonly GicMmioRegister[], frame: Frame, words: RegisterWords) => {
    for (const row of rows) (words[row.name] ?? []).forEach((w, i) => (out[`${prefix}${row.name}+0x${registerWords(row, frame, s.nrIrqs)[i].toString(16)}`] = BigInt(w)));
  };
  flat('', GICV3_DIST_REGISTERS, 'dist', s.distributor);
  s.spiLineLevels.forEach((w, i) => (out[`LEVEL_INFO ${GIC_SPI_BASE + 32 * i}`] = BigInt(w)));
  s.cpus.forEach((c, i) => {
    flat(`cpu${i} `, GICV3_REDIST_RD_REGISTERS, 'rd', c.redistributor);
    flat(`cpu${i} `, GICV3_REDIST_SGI_REGISTERS, 'sgi', c.redistributor);
    out[`cpu${i} LEVEL_INFO 0`] = BigInt(c.privateLineLevels);
    for (const [name, v] of Object.entries(c.cpuInterface)) out[`cpu${i} ${name}`] = v;
  });
  return out;
}

/** LPI pending bits → guest memory (GICR_PENDBASER tables): before the memory is saved, with LPIs in use. */
export function flushPendingTables(io: DeviceAttrIo): void {
  io.setAttr(G.CTRL, Arm64VgicCtrl.VGIC_SAVE_PENDING_TABLES);
}

/** An ITS's registers (GITS_*, GITS_CTLR included) as KVM reports them now. */
export function readItsRegisters(io: DeviceAttrIo): Record<string, bigint> {
  const registers: Record<string, bigint> = {};
  for (const r of [...GICV3_ITS_REGISTERS, ITS_CTLR]) registers[r.name] = io.getAttr(G.ITS_REGS, itsRegAttr(r.offset));
  return registers;
}

/** An ITS: its translation tables → guest memory (ITS_SAVE_TABLES), then its registers. */
export function saveIts(io: DeviceAttrIo): ItsState {
  io.setAttr(G.CTRL, Arm64VgicCtrl.ITS_SAVE_TABLES);
  return { registers: readItsRegisters(io) };
}

/** An ITS back (arm-vgic-its.rst): its registers, ITS_RESTORE_TABLES (from the restored guest memory), GITS_CTLR last. */
export function restoreIts(io: DeviceAttrIo, state: ItsState, where = 'its'): void {
  const value = (name: string): bigint => {
    const v = state.registers[name];
    if (typeof v !== 'bigint') throw incompatible(`${where} ${name}`, 'is missing');
    return v;
  };
  for (const r of GICV3_ITS_REGISTERS) {
    if (r.restore === 'compare') {
      const now = io.getAttr(G.ITS_REGS, itsRegAttr(r.offset));
      if (now !== value(r.name)) throw incompatible(`${where} ${r.name}`, `reads 0x${now.toString(16)} here, 0x${value(r.name).toString(16)} when saved`);
      continue;
    }
    if (r.restore === 'value-if-changed' && io.getAttr(G.ITS_REGS, itsRegAttr(r.offset)) === value(r.name)) continue;
    io.setAttr(G.ITS_REGS, itsRegAttr(r.offset), value(r.name));
  }
  io.setAttr(G.CTRL, Arm64VgicCtrl.ITS_RESTORE_TABLES);
  io.setAttr(G.ITS_REGS, itsRegAttr(ITS_CTLR.offset), value(ITS_CTLR.name));
}
