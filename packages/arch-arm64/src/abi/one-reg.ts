/**
 * KVM_GET/SET_ONE_REG ids on arm64 (api.rst "KVM_SET_ONE_REG", arch/arm64/include/uapi/asm/kvm.h):
 *
 *   63:56 architecture (KVM_REG_ARM64)  55:52 log2(size in bytes)  27:16 class  15:0 index
 *
 * Core registers are indexed by their offset in struct kvm_regs / 4, system registers by
 * op0..op2. Ids are bigints (they do not fit a double); the ABI test checks every builder and
 * named id against the headers' macros.
 */
import { ConfigError } from '@kvmts/core';

/** KVM_REG_ARM64: the architecture field of every arm64 id. */
export const KVM_REG_ARM64_ID = 0x6000_0000_0000_0000n;
export const KVM_REG_SIZE_SHIFT = 52;
export const KVM_REG_ARM_COPROC_SHIFT = 16;

/** Register classes ("coprocessors", bits 27:16, already shifted). */
export const KVM_REG_ARM_CORE = 0x0010_0000;
export const KVM_REG_ARM_DEMUX = 0x0011_0000;
export const KVM_REG_ARM64_SYSREG = 0x0013_0000;
export const KVM_REG_ARM_FW = 0x0014_0000;
export const KVM_REG_ARM64_SVE = 0x0015_0000;
export const KVM_REG_ARM_FW_FEAT_BMAP = 0x0016_0000;

/** Where op0..op2 sit in a system register's index (KVM_REG_ARM64_SYSREG_<name>). */
export const Arm64SysRegField = {
  OP0_SHIFT: 14,
  OP0_MASK: 0xc000,
  OP1_SHIFT: 11,
  OP1_MASK: 0x3800,
  CRN_SHIFT: 7,
  CRN_MASK: 0x0780,
  CRM_SHIFT: 3,
  CRM_MASK: 0x0078,
  OP2_SHIFT: 0,
  OP2_MASK: 0x0007,
} as const;

/** Register widths a ONE_REG id can name on arm64 (core: 4, 8 or 16 bytes; system registers: 8). */
export type OneRegBytes = 4 | 8 | 16;

const SIZE_FIELD: Readonly<Record<OneRegBytes, bigint>> = { 4: 2n, 8: 3n, 16: 4n };

/** Bytes the register named by `id` occupies (the size field: 1 << bits 55:52). */
export function oneRegBytes(id: bigint): number {
  return 1 << Number((id >> BigInt(KVM_REG_SIZE_SHIFT)) & 0xfn);
}

/** The id of the core register at `offset` in struct kvm_regs (its ONE_REG index is offset / 4). */
export function coreRegId(offset: number, bytes: OneRegBytes): bigint {
  if (!Number.isInteger(offset) || offset < 0 || offset % 4 !== 0) throw new ConfigError('coreRegId.offset', `${offset} is not a 4-byte-aligned offset in struct kvm_regs`);
  return KVM_REG_ARM64_ID | (SIZE_FIELD[bytes] << BigInt(KVM_REG_SIZE_SHIFT)) | BigInt(KVM_REG_ARM_CORE) | BigInt(offset / 4);
}

/** A system register's encoding, as MRS/MSR name it: S<op0>_<op1>_C<CRn>_C<CRm>_<op2>. */
export interface SysRegEncoding {
  readonly op0: number;
  readonly op1: number;
  readonly crn: number;
  readonly crm: number;
  readonly op2: number;
}

const SYSREG_FIELDS = [
  ['op0', Arm64SysRegField.OP0_SHIFT, Arm64SysRegField.OP0_MASK],
  ['op1', Arm64SysRegField.OP1_SHIFT, Arm64SysRegField.OP1_MASK],
  ['crn', Arm64SysRegField.CRN_SHIFT, Arm64SysRegField.CRN_MASK],
  ['crm', Arm64SysRegField.CRM_SHIFT, Arm64SysRegField.CRM_MASK],
  ['op2', Arm64SysRegField.OP2_SHIFT, Arm64SysRegField.OP2_MASK],
] as const;

/**
 * The id KVM gives the system register with encoding `e` (ARM64_SYS_REG). Use it for registers
 * listed by name in a table, never to decode ids KVM reports: the timer's CNT and CVAL ids do not
 * mean what their encodings say (Arm64TimerRegId).
 */
export function sysRegId(e: SysRegEncoding): bigint {
  let index = 0;
  for (const [name, shift, mask] of SYSREG_FIELDS) {
    const v = e[name];
    if (!Number.isInteger(v) || v < 0 || ((v << shift) & ~mask) !== 0) throw new ConfigError(`sysRegId.${name}`, `${v} does not fit its field`);
    index |= v << shift;
  }
  return KVM_REG_ARM64_ID | (SIZE_FIELD[8] << BigInt(KVM_REG_SIZE_SHIFT)) | BigInt(KVM_REG_ARM64_SYSREG) | BigInt(index);
}

/**
 * The generic timer's ids exactly as the uapi defines them (KVM_REG_ARM_<name>). The header
 * warns that TIMER_CVAL and TIMER_CNT "have been accidentally swapped" and are set API:
 *  - TIMER_CVAL carries CNTVCT_EL0's encoding (3,3,14,0,2), yet KVM reads and writes the
 *    virtual timer's compare value CNTV_CVAL_EL0 through it;
 *  - TIMER_CNT carries CNTV_CVAL_EL0's encoding (3,3,14,3,2), yet it is the virtual counter,
 *    and writing it moves the counter offset of the whole VM, every vCPU at once.
 * gem5 decoded them generically and so wrote its CVAL into the VM's counter (gem5-kvm.md §9).
 */
export const Arm64TimerRegId = {
  /** CNTV_CTL_EL0. */
  TIMER_CTL: 0x6030_0000_0013_df19n,
  /** CNTV_CVAL_EL0, despite its encoding. */
  TIMER_CVAL: 0x6030_0000_0013_df02n,
  /** CNTVCT_EL0 (VM-wide), despite its encoding. */
  TIMER_CNT: 0x6030_0000_0013_df1an,
  PTIMER_CTL: 0x6030_0000_0013_df11n,
  PTIMER_CVAL: 0x6030_0000_0013_df12n,
  PTIMER_CNT: 0x6030_0000_0013_df01n,
} as const;

/** KVM-as-firmware pseudo-registers (KVM_REG_ARM_<name>), U64. */
export const Arm64FwRegId = {
  /** PSCI version KVM implements (major << 16 | minor); userspace may lower it before the first run. */
  PSCI_VERSION: 0x6030_0000_0014_0000n,
  SMCCC_ARCH_WORKAROUND_1: 0x6030_0000_0014_0001n,
  SMCCC_ARCH_WORKAROUND_2: 0x6030_0000_0014_0002n,
  SMCCC_ARCH_WORKAROUND_3: 0x6030_0000_0014_0003n,
} as const;
