/**
 * The `attr` word of the vGICv3's register groups (arm-vgic-v3.rst), and of its ITS:
 *
 *   DIST_REGS    63:32 mpidr (ignored: KVM uses vCPU 0)   31:0 offset in the distributor frame
 *   REDIST_REGS  63:32 mpidr of the vCPU                  31:0 offset from its redistributor base
 *                                                              (SGI_base frame registers at 0x10000 + offset)
 *   CPU_SYSREGS  63:32 mpidr of the vCPU                  15:0 op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2
 *   LEVEL_INFO   63:32 mpidr of a vCPU (SPIs: any)        31:10 info (0 = line level)  9:0 vINTID (a multiple of 32)
 *   ITS_REGS     offset in the ITS frame
 *
 * The mpidr field is the vCPU's affinity *repacked*: Aff3 in 63:56, Aff2 55:48, Aff1 47:40,
 * Aff0 39:32 — MPIDR_EL1 itself keeps Aff3 at bits 39:32 (KVM's VGIC_TO_MPIDR undoes it).
 */
import { ConfigError } from '@kvmts/core';

/** Offset of a redistributor's SGI_base frame from its RD_base frame, as KVM addresses it. */
export const GICR_SGI_FRAME_OFFSET = 0x1_0000;
/** LEVEL_INFO's info field (KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_*). */
export const VGIC_LEVEL_INFO_SHIFT = 10;
export const VGIC_LEVEL_INFO_LINE_LEVEL = 0;

/** A system register's encoding (Arm ARM: op0, op1, CRn, CRm, op2). */
export interface SysRegEncoding {
  readonly op0: number;
  readonly op1: number;
  readonly crn: number;
  readonly crm: number;
  readonly op2: number;
}

/** MPIDR_EL1 → the attr's bits 63:32 (Aff3.Aff2.Aff1.Aff0, one byte each). */
export function vgicMpidrField(mpidr: bigint): bigint {
  if (mpidr < 0n || mpidr >= 1n << 64n) throw new ConfigError('mpidr', `0x${mpidr.toString(16)} is not an MPIDR_EL1 value`);
  const aff0 = mpidr & 0xffn;
  const aff1 = (mpidr >> 8n) & 0xffn;
  const aff2 = (mpidr >> 16n) & 0xffn;
  const aff3 = (mpidr >> 32n) & 0xffn;
  return (aff3 << 24n) | (aff2 << 16n) | (aff1 << 8n) | aff0;
}

function checkOffset(offset: number, limit: number, what: string): bigint {
  if (!Number.isInteger(offset) || offset < 0 || offset >= limit || offset % 4 !== 0) {
    throw new ConfigError(what, `0x${offset.toString(16)} is not a 4-byte aligned offset below 0x${limit.toString(16)}`);
  }
  return BigInt(offset);
}

/** DIST_REGS attr for the 32-bit register at `offset` of the distributor (64 KiB frame). */
export function distRegAttr(offset: number): bigint {
  return checkOffset(offset, 0x1_0000, 'distributor offset');
}

/** REDIST_REGS attr for `offset` from the vCPU's RD_base (SGI_base registers: GICR_SGI_FRAME_OFFSET + offset). */
export function redistRegAttr(mpidr: bigint, offset: number): bigint {
  return (vgicMpidrField(mpidr) << 32n) | checkOffset(offset, 0x2_0000, 'redistributor offset');
}

/** The 16-bit instruction field of a CPU_SYSREGS attr. */
export function sysRegField(e: SysRegEncoding): number {
  const fields: [number, number, number][] = [
    [e.op0, 14, 0x3],
    [e.op1, 11, 0x7],
    [e.crn, 7, 0xf],
    [e.crm, 3, 0xf],
    [e.op2, 0, 0x7],
  ];
  let v = 0;
  for (const [value, shift, mask] of fields) {
    if (!Number.isInteger(value) || value < 0 || value > mask) throw new ConfigError('system register', `field value ${value} does not fit ${mask + 1} values`);
    v |= value << shift;
  }
  return v;
}

/** CPU_SYSREGS attr for the ICC register `e` of the vCPU `mpidr`. */
export function cpuSysRegAttr(mpidr: bigint, e: SysRegEncoding): bigint {
  return (vgicMpidrField(mpidr) << 32n) | BigInt(sysRegField(e));
}

/** LEVEL_INFO attr for the line levels of INTIDs vintid … vintid + 31 (PPIs: vintid 0 with the vCPU's mpidr). */
export function levelInfoAttr(mpidr: bigint, vintid: number): bigint {
  if (!Number.isInteger(vintid) || vintid < 0 || vintid > 0x3ff || vintid % 32 !== 0) throw new ConfigError('vintid', `${vintid} is not a multiple of 32 below 1024`);
  return (vgicMpidrField(mpidr) << 32n) | BigInt((VGIC_LEVEL_INFO_LINE_LEVEL << VGIC_LEVEL_INFO_SHIFT) | vintid);
}

/** ITS_REGS attr for the register at `offset` of the ITS control frame (the value is a u64 whatever the register's width). */
export function itsRegAttr(offset: number): bigint {
  return checkOffset(offset, 0x1_0000, 'ITS offset');
}
