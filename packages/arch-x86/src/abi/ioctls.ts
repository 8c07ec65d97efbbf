import { io, ior, iow, iowr } from '@kvmts/core';
import {
  X86ClockDataLayout,
  X86Cpuid2Layout,
  X86DebugregsLayout,
  X86FpuLayout,
  X86GuestDebugLayout,
  X86InterruptLayout,
  X86IrqchipLayout,
  X86LapicStateLayout,
  X86MsrFilterLayout,
  X86MsrListLayout,
  X86MsrsLayout,
  X86NestedStateLayout,
  X86PitConfigLayout,
  X86PitState2Layout,
  X86RegsLayout,
  X86Sregs2Layout,
  X86SregsLayout,
  X86TranslationLayout,
  X86VcpuEventsLayout,
  X86XcrsLayout,
  X86XsaveLayout,
} from './layouts';

/**
 * x86-only KVM ioctls (the generic ones are core's KvmIoctl), each written once from its
 * direction, number and argument struct. The macro for key K is KVM_<K>; every entry is
 * checked against the installed headers by test/abi.test.ts.
 *
 * Quirks kept as the kernel defines them:
 * - SET_IRQCHIP is _IOR although userspace writes (historical; the number is ABI now).
 * - GET_PIT2/GET_VCPU_EVENTS share nr 0x9f and SET_PIT2/SET_VCPU_EVENTS nr 0xa0; SET_TSC_KHZ/
 *   SET_DEBUGREGS share 0xa2, GET_TSC_KHZ and core's ENABLE_CAP 0xa3, SET_XSAVE and core's
 *   SIGNAL_MSI 0xa5 — the direction and size keep the requests distinct.
 * - GET_XSAVE2 is encoded with 4096 bytes but copies KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes.
 * - SET_TSS_ADDR, SET_TSC_KHZ, SET_BOOT_CPU_ID take their argument by value, not by pointer.
 */
export const X86Ioctl = {
  // system fd
  GET_MSR_INDEX_LIST: iowr(0x02, X86MsrListLayout.size),
  GET_SUPPORTED_CPUID: iowr(0x05, X86Cpuid2Layout.size),
  GET_EMULATED_CPUID: iowr(0x09, X86Cpuid2Layout.size),
  GET_MSR_FEATURE_INDEX_LIST: iowr(0x0a, X86MsrListLayout.size),
  X86_GET_MCE_CAP_SUPPORTED: ior(0x9d, 8),
  /** System fd and (with KVM_CAP_SYS_HYPERV_CPUID) vCPU fd. */
  GET_SUPPORTED_HV_CPUID: iowr(0xc1, X86Cpuid2Layout.size),
  // VM fd
  SET_TSS_ADDR: io(0x47),
  SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  CREATE_IRQCHIP: io(0x60),
  GET_IRQCHIP: iowr(0x62, X86IrqchipLayout.size),
  SET_IRQCHIP: ior(0x63, X86IrqchipLayout.size),
  CREATE_PIT2: iow(0x77, X86PitConfigLayout.size),
  SET_BOOT_CPU_ID: io(0x78),
  SET_CLOCK: iow(0x7b, X86ClockDataLayout.size),
  GET_CLOCK: ior(0x7c, X86ClockDataLayout.size),
  GET_PIT2: ior(0x9f, X86PitState2Layout.size),
  SET_PIT2: iow(0xa0, X86PitState2Layout.size),
  X86_SET_MSR_FILTER: iow(0xc6, X86MsrFilterLayout.size),
  // vCPU fd
  GET_REGS: ior(0x81, X86RegsLayout.size),
  SET_REGS: iow(0x82, X86RegsLayout.size),
  GET_SREGS: ior(0x83, X86SregsLayout.size),
  SET_SREGS: iow(0x84, X86SregsLayout.size),
  TRANSLATE: iowr(0x85, X86TranslationLayout.size),
  INTERRUPT: iow(0x86, X86InterruptLayout.size),
  GET_MSRS: iowr(0x88, X86MsrsLayout.size),
  SET_MSRS: iow(0x89, X86MsrsLayout.size),
  GET_FPU: ior(0x8c, X86FpuLayout.size),
  SET_FPU: iow(0x8d, X86FpuLayout.size),
  GET_LAPIC: ior(0x8e, X86LapicStateLayout.size),
  SET_LAPIC: iow(0x8f, X86LapicStateLayout.size),
  SET_CPUID2: iow(0x90, X86Cpuid2Layout.size),
  GET_CPUID2: iowr(0x91, X86Cpuid2Layout.size),
  NMI: io(0x9a),
  SET_GUEST_DEBUG: iow(0x9b, X86GuestDebugLayout.size),
  X86_SETUP_MCE: iow(0x9c, 8),
  GET_VCPU_EVENTS: ior(0x9f, X86VcpuEventsLayout.size),
  SET_VCPU_EVENTS: iow(0xa0, X86VcpuEventsLayout.size),
  GET_DEBUGREGS: ior(0xa1, X86DebugregsLayout.size),
  SET_DEBUGREGS: iow(0xa2, X86DebugregsLayout.size),
  SET_TSC_KHZ: io(0xa2),
  GET_TSC_KHZ: io(0xa3),
  GET_XSAVE: ior(0xa4, X86XsaveLayout.size),
  SET_XSAVE: iow(0xa5, X86XsaveLayout.size),
  GET_XCRS: ior(0xa6, X86XcrsLayout.size),
  SET_XCRS: iow(0xa7, X86XcrsLayout.size),
  KVMCLOCK_CTRL: io(0xad),
  GET_NESTED_STATE: iowr(0xbe, X86NestedStateLayout.size),
  SET_NESTED_STATE: iow(0xbf, X86NestedStateLayout.size),
  GET_SREGS2: ior(0xcc, X86Sregs2Layout.size),
  SET_SREGS2: iow(0xcd, X86Sregs2Layout.size),
  GET_XSAVE2: ior(0xcf, X86XsaveLayout.size),
} as const;

export type X86IoctlName = keyof typeof X86Ioctl;
