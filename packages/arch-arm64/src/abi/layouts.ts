import type { AbiStruct } from '@kvmts/core';

/**
 * arm64 struct layouts (arch/arm64/include/uapi/asm/kvm.h, asm/ptrace.h), keyed by C member
 * designator so the ABI test checks every entry against the arm64 headers with the cross compiler.
 */

/** struct kvm_vcpu_init: KVM_ARM_VCPU_INIT and KVM_ARM_PREFERRED_TARGET. */
export const Arm64VcpuInitLayout = {
  struct: 'kvm_vcpu_init',
  size: 32,
  fields: {
    target: { offset: 0, size: 4 },
    features: { offset: 4, size: 28, stride: 4 },
  },
} as const satisfies AbiStruct;

/**
 * struct kvm_regs. KVM_GET/SET_REGS are not implemented on arm64: this layout is what the
 * ONE_REG ids of the core registers are built from (index = offset / 4).
 */
export const Arm64RegsLayout = {
  struct: 'kvm_regs',
  size: 864,
  fields: {
    'regs.regs': { offset: 0, size: 248, stride: 8 },
    /** SP_EL0 (user_pt_regs calls it sp). */
    'regs.sp': { offset: 248, size: 8 },
    'regs.pc': { offset: 256, size: 8 },
    'regs.pstate': { offset: 264, size: 8 },
    sp_el1: { offset: 272, size: 8 },
    elr_el1: { offset: 280, size: 8 },
    /** SPSR_EL1, then the AArch32 banked SPSR_abt, _und, _irq, _fiq. */
    spsr: { offset: 288, size: 40, stride: 8 },
    /** __uint128_t: 16-byte aligned, so 8 bytes of padding precede it. */
    'fp_regs.vregs': { offset: 336, size: 512, stride: 16 },
    'fp_regs.fpsr': { offset: 848, size: 4 },
    'fp_regs.fpcr': { offset: 852, size: 4 },
  },
} as const satisfies AbiStruct;

/** struct kvm_guest_debug on arm64: 520 bytes, so KVM_SET_GUEST_DEBUG differs from x86's number. */
export const Arm64GuestDebugLayout = {
  struct: 'kvm_guest_debug',
  size: 520,
  fields: {
    control: { offset: 0, size: 4 },
    'arch.dbg_bcr': { offset: 8, size: 128, stride: 8 },
    'arch.dbg_bvr': { offset: 136, size: 128, stride: 8 },
    'arch.dbg_wcr': { offset: 264, size: 128, stride: 8 },
    'arch.dbg_wvr': { offset: 392, size: 128, stride: 8 },
  },
} as const satisfies AbiStruct;

/** struct kvm_vcpu_events on arm64 (SError and external-abort injection). */
export const Arm64VcpuEventsLayout = {
  struct: 'kvm_vcpu_events',
  size: 64,
  fields: {
    'exception.serror_pending': { offset: 0, size: 1 },
    'exception.serror_has_esr': { offset: 1, size: 1 },
    'exception.ext_dabt_pending': { offset: 2, size: 1 },
    'exception.serror_esr': { offset: 8, size: 8 },
    reserved: { offset: 16, size: 48, stride: 4 },
  },
} as const satisfies AbiStruct;

/**
 * The arm64-only members of struct kvm_run (core's KvmRunLayout has the common ones):
 * KVM_EXIT_ARM_NISV, the arm64 KVM_EXIT_DEBUG payload and the in-kernel device levels that
 * KVM_CAP_ARM_USER_IRQ reports.
 */
export const Arm64RunLayout = {
  struct: 'kvm_run',
  size: 2352,
  fields: {
    'arm_nisv.esr_iss': { offset: 32, size: 8 },
    'arm_nisv.fault_ipa': { offset: 40, size: 8 },
    'debug.arch.hsr': { offset: 32, size: 4 },
    'debug.arch.hsr_high': { offset: 36, size: 4 },
    'debug.arch.far': { offset: 40, size: 8 },
    's.regs.device_irq_level': { offset: 304, size: 8 },
  },
} as const satisfies AbiStruct;

/** Every layout of this package, for the ABI test's completeness check. */
export const Arm64Layouts = [Arm64VcpuInitLayout, Arm64RegsLayout, Arm64GuestDebugLayout, Arm64VcpuEventsLayout, Arm64RunLayout] as const;
