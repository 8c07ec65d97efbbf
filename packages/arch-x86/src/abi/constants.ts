/**
 * x86 KVM constants (arch/x86/include/uapi/asm/kvm.h and x86 parts of linux/kvm.h).
 * A constant named like its C macro is checked by the ABI test automatically; a table
 * `Name = { K: v }` is checked against `<prefix>K` (the prefix is given in each comment).
 */

/** vCPU mmap: page 1 holds PIO data, page 2 the coalesced MMIO/PIO ring (x86 only). */
export const KVM_PIO_PAGE_OFFSET = 1;
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;

export const KVM_NR_INTERRUPTS = 256;
export const KVM_MAX_XCRS = 16;
export const KVM_APIC_REG_SIZE = 0x400;
export const KVM_IOAPIC_NUM_PINS = 24;
export const KVM_NR_IRQCHIPS = 3;
export const KVM_MSR_FILTER_MAX_RANGES = 16;
export const KVM_MSR_FILTER_MAX_BITMAP_SIZE = 0x600;
/** kvm_pit_config.flags for KVM_CREATE_PIT2: no speaker port emulation side effects. */
export const KVM_PIT_SPEAKER_DUMMY = 1;
/** kvm_sregs2.flags: pdptrs[] are valid (PAE paging). */
export const KVM_SREGS2_FLAGS_PDPTRS_VALID = 1;
export const KVM_STATE_NESTED_FORMAT_VMX = 0;
export const KVM_STATE_NESTED_FORMAT_SVM = 1;

/** kvm_vcpu_events.flags (KVM_VCPUEVENT_VALID_*): which optional parts SET applies. */
export const X86VcpuEventValid = {
  NMI_PENDING: 0x01,
  SIPI_VECTOR: 0x02,
  SHADOW: 0x04,
  SMM: 0x08,
  PAYLOAD: 0x10,
  TRIPLE_FAULT: 0x20,
} as const;

/** kvm_vcpu_events.interrupt.shadow (KVM_X86_SHADOW_INT_*). */
export const X86InterruptShadow = { MOV_SS: 0x1, STI: 0x2 } as const;

/** kvm_cpuid_entry2.flags (KVM_CPUID_FLAG_*; the kernel spells SIGNIFCANT without the I). */
export const X86CpuidFlag = { SIGNIFCANT_INDEX: 0x1, STATEFUL_FUNC: 0x2, STATE_READ_NEXT: 0x4 } as const;

/** kvm_guest_debug.control bits added by x86 (KVM_GUESTDBG_*), on top of core's KvmGuestDebug. */
export const X86GuestDebug = {
  USE_SW_BP: 0x00010000,
  USE_HW_BP: 0x00020000,
  INJECT_DB: 0x00040000,
  INJECT_BP: 0x00080000,
  BLOCKIRQ: 0x00100000,
} as const;

/** kvm_irqchip.chip_id (KVM_IRQCHIP_*). */
export const X86Irqchip = { PIC_MASTER: 0, PIC_SLAVE: 1, IOAPIC: 2 } as const;

/** kvm_run.flags on x86 (KVM_RUN_X86_*). */
export const X86RunFlag = { SMM: 0x1, BUS_LOCK: 0x2 } as const;

/** kvm_run.kvm_valid_regs / kvm_dirty_regs bits (KVM_SYNC_X86_*). */
export const X86SyncRegs = { REGS: 0x1, SREGS: 0x2, EVENTS: 0x4 } as const;

/** kvm_msr_filter(.ranges[]).flags (KVM_MSR_FILTER_*). */
export const X86MsrFilter = { READ: 0x1, WRITE: 0x2, DEFAULT_ALLOW: 0x0, DEFAULT_DENY: 0x1 } as const;

/** KVM_CAP_DISABLE_QUIRKS2 bits (KVM_X86_QUIRK_*). */
export const X86Quirk = {
  LINT0_REENABLED: 1 << 0,
  CD_NW_CLEARED: 1 << 1,
  LAPIC_MMIO_HOLE: 1 << 2,
  OUT_7E_INC_RIP: 1 << 3,
  MISC_ENABLE_NO_MWAIT: 1 << 4,
  FIX_HYPERCALL_INSN: 1 << 5,
  MWAIT_NEVER_UD_FAULTS: 1 << 6,
} as const;

/** kvm_pit_state2.flags (KVM_PIT_FLAGS_*). */
export const X86PitFlag = { HPET_LEGACY: 0x1, SPEAKER_DATA_ON: 0x2 } as const;

/** kvm_clock_data.flags (KVM_CLOCK_*). */
export const X86ClockFlag = { TSC_STABLE: 0x2, REALTIME: 0x4, HOST_TSC: 0x8 } as const;

/** KVM_CAP_X86_DISABLE_EXITS argument bits (KVM_X86_DISABLE_EXITS_*). */
export const X86DisableExits = { MWAIT: 0x1, HLT: 0x2, PAUSE: 0x4, CSTATE: 0x8 } as const;

/** KVM_CAP_X2APIC_API argument bits (KVM_X2APIC_API_*). */
export const X86X2apicApi = { USE_32BIT_IDS: 0x1, DISABLE_BROADCAST_QUIRK: 0x2 } as const;

/**
 * C macro prefix of every x86 name table (key = exported table name); the ABI test checks
 * `<prefix><key>` for each entry and fails on any exported table missing here.
 */
export const X86AbiTablePrefixes = {
  X86Ioctl: 'KVM_',
  X86VcpuEventValid: 'KVM_VCPUEVENT_VALID_',
  X86InterruptShadow: 'KVM_X86_SHADOW_INT_',
  X86CpuidFlag: 'KVM_CPUID_FLAG_',
  X86GuestDebug: 'KVM_GUESTDBG_',
  X86Irqchip: 'KVM_IRQCHIP_',
  X86RunFlag: 'KVM_RUN_X86_',
  X86SyncRegs: 'KVM_SYNC_X86_',
  X86MsrFilter: 'KVM_MSR_FILTER_',
  X86Quirk: 'KVM_X86_QUIRK_',
  X86PitFlag: 'KVM_PIT_FLAGS_',
  X86ClockFlag: 'KVM_CLOCK_',
  X86DisableExits: 'KVM_X86_DISABLE_EXITS_',
  X86X2apicApi: 'KVM_X2APIC_API_',
} as const;
