/**
 * Layout of `struct kvm_run` (the page shared with the kernel), identical on x86-64 and
 * arm64 for the fields listed here (arch-specific members such as `debug.arch` live in the
 * arch packages). Offsets in bytes, keyed `<union member>_<field>`; checked by the ABI test.
 */
export const KvmRunLayout = {
  request_interrupt_window: 0,
  immediate_exit: 1,
  exit_reason: 8,
  ready_for_interrupt_injection: 12,
  if_flag: 13,
  flags: 14,
  cr8: 16,
  apic_base: 24,
  /** The exit-specific union starts here. */
  union: 32,
  io_direction: 32,
  io_size: 33,
  io_port: 34,
  io_count: 36,
  io_data_offset: 40,
  mmio_phys_addr: 32,
  mmio_data: 40,
  mmio_len: 48,
  mmio_is_write: 52,
  fail_entry_hardware_entry_failure_reason: 32,
  fail_entry_cpu: 40,
  hw_hardware_exit_reason: 32,
  ex_exception: 32,
  ex_error_code: 36,
  hypercall_nr: 32,
  hypercall_args: 40,
  hypercall_ret: 88,
  hypercall_longmode: 96,
  internal_suberror: 32,
  internal_ndata: 36,
  internal_data: 40,
  /** KVM_INTERNAL_ERROR_EMULATION with KVM_CAP_EXIT_ON_EMULATION_FAILURE: overlays `internal.data`. */
  emulation_failure_flags: 40,
  emulation_failure_insn_size: 48,
  emulation_failure_insn_bytes: 49,
  system_event_type: 32,
  system_event_ndata: 36,
  system_event_data: 40,
  /** KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR (generic header, used by x86 only). */
  msr_error: 32,
  msr_reason: 40,
  msr_index: 44,
  msr_data: 48,
  kvm_valid_regs: 288,
  kvm_dirty_regs: 296,
  sync_regs: 304,
  size: 2352,
} as const;

/** KVM_EXIT_* reasons. */
export enum KvmExitReason {
  UNKNOWN = 0,
  EXCEPTION = 1,
  IO = 2,
  HYPERCALL = 3,
  DEBUG = 4,
  HLT = 5,
  MMIO = 6,
  IRQ_WINDOW_OPEN = 7,
  SHUTDOWN = 8,
  FAIL_ENTRY = 9,
  INTR = 10,
  SET_TPR = 11,
  TPR_ACCESS = 12,
  NMI = 16,
  INTERNAL_ERROR = 17,
  SYSTEM_EVENT = 24,
  IOAPIC_EOI = 26,
  HYPERV = 27,
  ARM_NISV = 28,
  X86_RDMSR = 29,
  X86_WRMSR = 30,
  DIRTY_RING_FULL = 31,
  AP_RESET_HOLD = 32,
  X86_BUS_LOCK = 33,
  XEN = 34,
  NOTIFY = 37,
  MEMORY_FAULT = 39,
}

/** struct kvm_userspace_memory_region (32 bytes). */
export const UserspaceMemoryRegionLayout = {
  slot: 0,
  flags: 4,
  guest_phys_addr: 8,
  memory_size: 16,
  userspace_addr: 24,
  size: 32,
} as const;

/** kvm_run.io.direction values. */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.internal.suberror values (KVM_INTERNAL_ERROR_*). */
export enum KvmInternalError {
  EMULATION = 1,
  SIMUL_EX = 2,
  DELIVERY_EV = 3,
  UNEXPECTED_EXIT_REASON = 4,
}
/** emulation_failure.flags bit: insn_size/insn_bytes are valid. */
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1;

/** kvm_run.system_event.type values (KVM_SYSTEM_EVENT_*). */
export enum KvmSystemEvent {
  SHUTDOWN = 1,
  RESET = 2,
  CRASH = 3,
  WAKEUP = 4,
  SUSPEND = 5,
  SEV_TERM = 6,
}

/** kvm_run.msr.reason bits (KVM_MSR_EXIT_REASON_*), also the KVM_CAP_X86_USER_SPACE_MSR mask. */
export const KvmMsrExitReason = { INVAL: 1, UNKNOWN: 2, FILTER: 4 } as const;

export const KVM_MEM_LOG_DIRTY_PAGES = 1;
export const KVM_MEM_READONLY = 2;

/** struct kvm_coalesced_mmio_zone (16) and the ring page entries. */
export const CoalescedMmioZoneLayout = { addr: 0, size: 8, pio: 12, sizeof: 16 } as const;
export const CoalescedMmioRingLayout = { first: 0, last: 4, entries: 8 } as const;
export const CoalescedMmioEntryLayout = { phys_addr: 0, len: 8, pio: 12, data: 16, sizeof: 24 } as const;

export const IrqLevelLayout = { irq: 0, level: 4, size: 8 } as const;
export const IrqfdLayout = { fd: 0, gsi: 4, flags: 8, resamplefd: 12, size: 32 } as const;
export const IoeventfdLayout = { datamatch: 0, addr: 8, len: 16, fd: 20, flags: 24, size: 64 } as const;
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
export const KVM_IOEVENTFD_FLAG_PIO = 2;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 4;
export const KVM_IRQFD_FLAG_DEASSIGN = 1;
export const KVM_IRQFD_FLAG_RESAMPLE = 2;
export const CreateDeviceLayout = { type: 0, fd: 4, flags: 8, size: 12 } as const;
export const DeviceAttrLayout = { flags: 0, group: 4, attr: 8, addr: 16, size: 24 } as const;
export const EnableCapLayout = { cap: 0, flags: 4, args: 8, size: 104 } as const;
export const OneRegLayout = { id: 0, addr: 8, size: 16 } as const;
export const MpStateLayout = { mp_state: 0, size: 4 } as const;
export const SignalMaskLayout = { len: 0, sigset: 4 } as const;
export const DirtyLogLayout = { slot: 0, dirty_bitmap: 8, size: 16 } as const;
export const ClearDirtyLogLayout = { slot: 0, num_pages: 4, first_page: 8, dirty_bitmap: 16, size: 24 } as const;
export const RegListLayout = { n: 0, reg: 8 } as const;
export const MsiLayout = { address_lo: 0, address_hi: 4, data: 8, flags: 12, devid: 16, size: 32 } as const;
