/**
 * The state of KVM's vGICv3 as data: which registers of the distributor, each redistributor,
 * each CPU interface and each ITS hold state, how wide they are and how many words a GIC with
 * NR_IRQS interrupts has of each (arm-vgic-v3.rst, Arm GICv3 architecture specification chapter 12).
 *
 * A row's place in its table is its place in the restore order, which KVM and the architecture
 * constrain (QEMU arm_gicv3_kvm.c, arm-vgic-v3.rst):
 *  - GICD_IIDR first: it tells KVM which implementation revision userspace expects (and makes
 *    the group registers writable from userspace);
 *  - configuration (groups, routes, edge/level, priorities) before state, so a pending bit is
 *    taken as edge or level correctly and lands on the right vCPU;
 *  - then (in code, between the phases) the line levels, then the pending latches, then
 *    enables and active bits, each written as clear-all then set-saved;
 *  - GICR_PROPBASER/PENDBASER before GICR_CTLR (EnableLPIs freezes them);
 *  - ICC_SRE_EL1 first, ICC_CTLR_EL1 before the binary points;
 *  - ITS: registers, then ITS_RESTORE_TABLES, then GITS_CTLR (enabling) last.
 *
 * Per-interrupt registers are sized from the bits each interrupt takes (never the "itLines/8
 * bytes for every register" gem5 uses): 1 bit (enable, pending, active, group), 2 bits (ICFGR,
 * NSACR), 8 bits (IPRIORITYR), 64 bits (IROUTER). In the distributor only the SPIs (INTID ≥ 32)
 * are state: with affinity routing, always on in KVM's vGICv3, the distributor's INTID 0–31
 * fields are RAZ/WI and each redistributor holds its vCPU's SGIs and PPIs.
 */
import { ConfigError } from '@kvmts/core';
import { GIC_SPI_BASE } from '../intid';
import { GICR_SGI_FRAME_OFFSET, type SysRegEncoding } from './v3-attr';

/** How a restore puts a saved register back. */
export type RestoreWrite =
  /** Write the saved value. */
  | 'value'
  /**
   * Write the saved value unless the restoring device already reads exactly that: KVM
   * sanitises the cacheability and shareability fields of the LPI/ITS table-base registers on
   * every write, so writing back their reset value (0) would turn it into KVM's defaults
   * (GICR_PROPBASER 0 → 0x180, GITS_CBASER 0 → 0x1800_0000_0000_0000: seen on Linux 6.1).
   */
  | 'value-if-changed'
  /** A write-1-to-set register: first all-ones to its write-1-to-clear twin (`clearOffset`), then the saved bits. */
  | 'set-after-clear'
  /** Read-only, describes the GIC's make-up: the restoring vGIC must read the same, or the restore is refused. */
  | 'compare';

/** When in a frame's restore the row is written: configuration, then (line levels,) then state. */
export type RestorePhase = 'config' | 'state';

export interface GicMmioRegister {
  readonly name: string;
  /** Offset in its frame (SGI_base registers: from SGI_base; KVM's offset adds GICR_SGI_FRAME_OFFSET). */
  readonly offset: number;
  /** 'word': one 32-bit register; 'double': a 64-bit register KVM moves as two words (low, high); 'per-intid': one field per interrupt. */
  readonly shape: 'word' | 'double' | 'per-intid';
  /** Bits per interrupt of a 'per-intid' row. */
  readonly bitsPerIntid?: 1 | 2 | 8 | 64;
  readonly restore: RestoreWrite;
  readonly phase: RestorePhase;
  /** The write-1-to-clear twin of a 'set-after-clear' row. */
  readonly clearOffset?: number;
}

const word = (name: string, offset: number, restore: RestoreWrite = 'value'): GicMmioRegister => ({ name, offset, shape: 'word', restore, phase: 'config' });
const double = (name: string, offset: number, restore: RestoreWrite = 'value'): GicMmioRegister => ({ name, offset, shape: 'double', restore, phase: 'config' });
const perIntid = (name: string, offset: number, bitsPerIntid: 1 | 2 | 8 | 64, phase: RestorePhase = 'config', clearOffset?: number): GicMmioRegister => ({
  name,
  offset,
  shape: 'per-intid',
  bitsPerIntid,
  restore: clearOffset === undefined ? 'value' : 'set-after-clear',
  phase,
  ...(clearOffset === undefined ? {} : { clearOffset }),
});

/**
 * GICv3 distributor (GRP_DIST_REGS). GICD_ISPENDR through KVM reads and writes the pending
 * *latch* (ICPENDR is RAZ/WI there); the line level of level-sensitive SPIs travels separately
 * (LEVEL_INFO). Not state: TYPER2/PIDR (ID), ITARGETSR/SGIR/CPENDSGIR/SPENDSGIR (GICv2 legacy,
 * RAZ/WI with affinity routing), ICPENDR.
 */
export const GICV3_DIST_REGISTERS: readonly GicMmioRegister[] = [
  word('GICD_IIDR', 0x0008),
  word('GICD_TYPER', 0x0004, 'compare'),
  word('GICD_CTLR', 0x0000),
  word('GICD_STATUSR', 0x0010),
  perIntid('GICD_IGROUPR', 0x0080, 1),
  perIntid('GICD_IGRPMODR', 0x0d00, 1),
  perIntid('GICD_NSACR', 0x0e00, 2),
  perIntid('GICD_IROUTER', 0x6000, 64),
  perIntid('GICD_ICFGR', 0x0c00, 2),
  perIntid('GICD_IPRIORITYR', 0x0400, 8),
  perIntid('GICD_ISPENDR', 0x0200, 1, 'state'),
  perIntid('GICD_ISENABLER', 0x0100, 1, 'state', 0x0180),
  perIntid('GICD_ISACTIVER', 0x0300, 1, 'state', 0x0380),
];

/** The redistributor's RD_base frame (GRP_REDIST_REGS). */
export const GICV3_REDIST_RD_REGISTERS: readonly GicMmioRegister[] = [
  double('GICR_TYPER', 0x0008, 'compare'),
  word('GICR_STATUSR', 0x0010),
  word('GICR_WAKER', 0x0014),
  double('GICR_PROPBASER', 0x0070, 'value-if-changed'),
  double('GICR_PENDBASER', 0x0078, 'value-if-changed'),
  word('GICR_CTLR', 0x0000),
];

/** The redistributor's SGI_base frame: INTIDs 0–31 of its vCPU. */
export const GICV3_REDIST_SGI_REGISTERS: readonly GicMmioRegister[] = [
  perIntid('GICR_IGROUPR0', 0x0080, 1),
  perIntid('GICR_IGRPMODR0', 0x0d00, 1),
  word('GICR_NSACR', 0x0e00), // 2 bits for each SGI only: one word
  perIntid('GICR_ICFGR', 0x0c00, 2),
  perIntid('GICR_IPRIORITYR', 0x0400, 8),
  perIntid('GICR_ISPENDR0', 0x0200, 1, 'state'),
  perIntid('GICR_ISENABLER0', 0x0100, 1, 'state', 0x0180),
  perIntid('GICR_ISACTIVER0', 0x0300, 1, 'state', 0x0380),
];

export interface IccRegister {
  readonly name: string;
  readonly encoding: SysRegEncoding;
  /** ICC_AP0R<n>/AP1R<n>: n, present only where the priority bits implement it. */
  readonly apIndex?: number;
}

const icc = (name: string, crn: number, crm: number, op2: number, apIndex?: number): IccRegister => ({
  name,
  encoding: { op0: 3, op1: 0, crn, crm, op2 },
  ...(apIndex === undefined ? {} : { apIndex }),
});

/**
 * A vCPU's GICv3 CPU interface (GRP_CPU_SYSREGS, u64 each). Not state: IAR, EOIR, HPPIR, DIR,
 * RPR, SGI*R — reading or writing them acknowledges, completes or raises interrupts.
 */
export const GICV3_ICC_REGISTERS: readonly IccRegister[] = [
  icc('ICC_SRE_EL1', 12, 12, 5),
  icc('ICC_CTLR_EL1', 12, 12, 4),
  icc('ICC_IGRPEN0_EL1', 12, 12, 6),
  icc('ICC_IGRPEN1_EL1', 12, 12, 7),
  icc('ICC_PMR_EL1', 4, 6, 0),
  icc('ICC_BPR0_EL1', 12, 8, 3),
  icc('ICC_BPR1_EL1', 12, 12, 3),
  ...[0, 1, 2, 3].map((n) => icc(`ICC_AP0R${n}_EL1`, 12, 8, 4 + n, n)),
  ...[0, 1, 2, 3].map((n) => icc(`ICC_AP1R${n}_EL1`, 12, 9, n, n)),
];

/** ICC_CTLR_EL1.PRIbits (bits 10:8): the implemented priority bits − 1. */
export function iccPriorityBits(iccCtlr: bigint): number {
  return Number((iccCtlr >> 8n) & 0x7n) + 1;
}

/** ICC_AP0R<n>/AP1R<n> that exist with `priorityBits` implemented: 1 with 5 bits, 2 with 6, 4 with 7 (Arm GICv3 spec 12.2.1). */
export function activePriorityRegisters(priorityBits: number): number {
  if (!Number.isInteger(priorityBits) || priorityBits < 5 || priorityBits > 8) throw new ConfigError('ICC_CTLR_EL1.PRIbits', `a GICv3 CPU interface implements 5–8 priority bits, not ${priorityBits}`);
  return 1 << (Math.min(priorityBits, 7) - 5);
}

/** The ICC rows a CPU interface with `priorityBits` priority bits has, in restore order. */
export function iccRegistersFor(priorityBits: number): IccRegister[] {
  const n = activePriorityRegisters(priorityBits);
  return GICV3_ICC_REGISTERS.filter((r) => r.apIndex === undefined || r.apIndex < n);
}

/** One GITS register (GRP_ITS_REGS, u64 each). */
export interface ItsRegister {
  readonly name: string;
  readonly offset: number;
  readonly restore: 'value' | 'value-if-changed' | 'compare';
}

/** The ITS's registers in restore order; GITS_CTLR is written after ITS_RESTORE_TABLES (arm-vgic-its.rst), see ITS_CTLR. */
export const GICV3_ITS_REGISTERS: readonly ItsRegister[] = [
  { name: 'GITS_IIDR', offset: 0x0004, restore: 'value' },
  { name: 'GITS_TYPER', offset: 0x0008, restore: 'compare' },
  { name: 'GITS_CBASER', offset: 0x0080, restore: 'value-if-changed' },
  { name: 'GITS_CREADR', offset: 0x0090, restore: 'value' },
  { name: 'GITS_CWRITER', offset: 0x0088, restore: 'value' },
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ name: `GITS_BASER${n}`, offset: 0x0100 + 8 * n, restore: 'value-if-changed' as const })),
];
export const ITS_CTLR: ItsRegister = { name: 'GITS_CTLR', offset: 0x0000, restore: 'value' };

/** NR_IRQS KVM accepts (vgic-kvm-device.c): a multiple of 32 from 64 to 1023 — so at most 992. */
export const VGIC_MIN_NR_IRQS = 64;
export const VGIC_MAX_NR_IRQS = 992;

export function checkNrIrqs(nrIrqs: number): number {
  if (!Number.isInteger(nrIrqs) || nrIrqs < VGIC_MIN_NR_IRQS || nrIrqs > VGIC_MAX_NR_IRQS || nrIrqs % 32 !== 0) {
    throw new ConfigError('nrIrqs', `KVM's vGIC takes ${VGIC_MIN_NR_IRQS}–${VGIC_MAX_NR_IRQS} interrupts in steps of 32 (KVM_DEV_ARM_VGIC_GRP_NR_IRQS), not ${nrIrqs}`);
  }
  return nrIrqs;
}

/**
 * The 32-bit words KVM moves for `row` — offsets in the attr's terms (SGI-frame rows include
 * GICR_SGI_FRAME_OFFSET) — in a distributor (`frame` 'dist': the SPIs, INTID 32 … nrIrqs − 1)
 * or a redistributor ('rd', 'sgi': INTIDs 0–31).
 */
export function registerWords(row: GicMmioRegister, frame: 'dist' | 'rd' | 'sgi', nrIrqs: number): number[] {
  const base = frame === 'sgi' ? GICR_SGI_FRAME_OFFSET : 0;
  if (row.shape === 'word') return [base + row.offset];
  if (row.shape === 'double') return [base + row.offset, base + row.offset + 4];
  const bits = row.bitsPerIntid!;
  const [first, end] = frame === 'dist' ? [GIC_SPI_BASE, checkNrIrqs(nrIrqs)] : [0, GIC_SPI_BASE];
  const startByte = (first * bits) / 8;
  const endByte = (end * bits) / 8;
  const words: number[] = [];
  for (let b = startByte; b < endByte; b += 4) words.push(base + row.offset + b);
  return words;
}

/** The write-1-to-clear twin of each word of a 'set-after-clear' row. */
export function clearWords(row: GicMmioRegister, frame: 'dist' | 'rd' | 'sgi', nrIrqs: number): number[] {
  if (row.clearOffset === undefined) throw new ConfigError(row.name, 'has no write-1-to-clear twin');
  return registerWords(row, frame, nrIrqs).map((o) => o - row.offset + row.clearOffset!);
}
