/**
 * arm64 KVM constants as name tables (arch/arm64/include/uapi/asm/kvm.h, linux/kvm.h,
 * linux/psci.h). Entry K of table T is the macro `<prefix>K` (Arm64AbiTablePrefixes); numbers
 * named exactly like their macro are checked as they are. The ABI test checks all of them.
 */

/** kvm_vcpu_init.features[0] bits (KVM_ARM_VCPU_<name>). */
export const Arm64VcpuFeature = {
  /** Start in the PSCI OFF state (MP state STOPPED) until another vCPU's CPU_ON. */
  POWER_OFF: 0,
  EL1_32BIT: 1,
  /** KVM implements PSCI 0.2+ (CPU_ON/OFF, SYSTEM_OFF/RESET) for this vCPU. */
  PSCI_0_2: 2,
  PMU_V3: 3,
  SVE: 4,
  /** PTRAUTH_ADDRESS and PTRAUTH_GENERIC must be requested together. */
  PTRAUTH_ADDRESS: 5,
  PTRAUTH_GENERIC: 6,
} as const;

/** kvm_vcpu_init.target values (KVM_ARM_TARGET_<name>); KVM_ARM_PREFERRED_TARGET names the host's. */
export const Arm64Target = {
  AEM_V8: 0,
  FOUNDATION_V8: 1,
  CORTEX_A57: 2,
  XGENE_POTENZA: 3,
  CORTEX_A53: 4,
  GENERIC_V8: 5,
} as const;

/** kvm_regs.spsr indexes (KVM_SPSR_<name>): the AArch64 SPSR_EL1, then AArch32's banked ones. */
export const Arm64SpsrIndex = { EL1: 0, ABT: 1, UND: 2, IRQ: 3, FIQ: 4 } as const;
export const KVM_NR_SPSR = 5;

/** vGIC device attribute groups (KVM_DEV_ARM_VGIC_GRP_<name>), on the device fd. */
export const Arm64VgicGroup = {
  ADDR: 0,
  DIST_REGS: 1,
  CPU_REGS: 2,
  NR_IRQS: 3,
  CTRL: 4,
  REDIST_REGS: 5,
  CPU_SYSREGS: 6,
  LEVEL_INFO: 7,
  ITS_REGS: 8,
} as const;

/** Group ADDR attributes (KVM_VGIC_<name>): which frame's guest-physical base is set. */
export const Arm64VgicAddrType = {
  V2_ADDR_TYPE_DIST: 0,
  V2_ADDR_TYPE_CPU: 1,
  V3_ADDR_TYPE_DIST: 2,
  V3_ADDR_TYPE_REDIST: 3,
  ITS_ADDR_TYPE: 4,
  V3_ADDR_TYPE_REDIST_REGION: 5,
} as const;

/** Group CTRL attributes (KVM_DEV_ARM_<name>). */
export const Arm64VgicCtrl = {
  /** Size and map the vGIC; every vCPU must exist first (arm-vgic-v3.rst). */
  VGIC_CTRL_INIT: 0,
  ITS_SAVE_TABLES: 1,
  ITS_RESTORE_TABLES: 2,
  VGIC_SAVE_PENDING_TABLES: 3,
  ITS_CTRL_RESET: 4,
} as const;

/** vCPU device attribute groups (KVM_ARM_VCPU_<name>), on the vCPU fd. */
export const Arm64VcpuAttrGroup = { PMU_V3_CTRL: 0, TIMER_CTRL: 1, PVTIME_CTRL: 2 } as const;
/** TIMER_CTRL attributes (KVM_ARM_VCPU_TIMER_<name>): the PPI of each timer. */
export const Arm64TimerAttr = { IRQ_VTIMER: 0, IRQ_PTIMER: 1 } as const;

/** KVM_IRQ_LINE `irq` fields (KVM_ARM_IRQ_<name>), see ./irq-line.ts. */
export const Arm64IrqLineField = {
  VCPU2_SHIFT: 28,
  VCPU2_MASK: 0xf,
  TYPE_SHIFT: 24,
  TYPE_MASK: 0xf,
  VCPU_SHIFT: 16,
  VCPU_MASK: 0xff,
  NUM_SHIFT: 0,
  NUM_MASK: 0xffff,
} as const;
/** KVM_IRQ_LINE irq_type values (KVM_ARM_IRQ_TYPE_<name>). */
export const Arm64IrqType = { CPU: 0, SPI: 1, PPI: 2 } as const;
/** irq_id of the CPU type, only without an in-kernel GIC (KVM_ARM_IRQ_CPU_<name>). */
export const Arm64IrqCpuLine = { IRQ: 0, FIQ: 1 } as const;
/**
 * Bits of kvm_run.s.regs.device_irq_level (KVM_ARM_DEV_<name>, KVM_CAP_ARM_USER_IRQ): the output
 * levels of KVM's in-kernel devices, reported on every exit when no in-kernel GIC takes them.
 */
export const Arm64DeviceIrqLevel = { EL1_VTIMER: 1 << 0, EL1_PTIMER: 1 << 1, PMU: 1 << 2 } as const;

/** kvm_guest_debug.control bits arm64 adds to core's KvmGuestDebug (KVM_GUESTDBG_<name>). */
export const Arm64GuestDebug = { USE_SW_BP: 1 << 16, USE_HW: 1 << 17 } as const;
export const KVM_ARM_MAX_DBG_REGS = 16;
/** kvm_run.flags bit of KVM_EXIT_DEBUG: hsr_high is valid. */
export const KVM_DEBUG_ARCH_HSR_HIGH_VALID = 1;
/** kvm_run.system_event.data[0] bit: a RESET came from PSCI SYSTEM_RESET2. */
export const KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2 = 1;
/** kvm_run.fail_entry.hardware_entry_failure_reason bit: the vCPU ran on a CPU type it was not created for. */
export const KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED = 1;
/** The coalesced-MMIO ring's page in the vCPU mapping: 1 on arm64 (no PIO data page), 2 on x86. */
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 1;
/** KVM_CREATE_VM type on arm64: the guest IPA size in bits (0 = the default 40). */
export const KVM_VM_TYPE_ARM_IPA_SIZE_MASK = 0xff;

/**
 * KVM_CREATE_DEVICE types arm64 uses. They are members of `enum kvm_device_type`, not macros,
 * so the ABI test checks them without an #ifdef guard.
 */
export const Arm64KvmDeviceType = { ARM_VGIC_V2: 5, ARM_VGIC_V3: 7, ARM_VGIC_ITS: 8 } as const;

/** PSCI 0.2+ function ids (linux/psci.h, PSCI_0_2_FN_<name>): SMC32 calling convention. */
export const PsciFunction = {
  PSCI_VERSION: 0x8400_0000,
  CPU_SUSPEND: 0x8400_0001,
  CPU_OFF: 0x8400_0002,
  CPU_ON: 0x8400_0003,
  AFFINITY_INFO: 0x8400_0004,
  MIGRATE: 0x8400_0005,
  MIGRATE_INFO_TYPE: 0x8400_0006,
  MIGRATE_INFO_UP_CPU: 0x8400_0007,
  SYSTEM_OFF: 0x8400_0008,
  SYSTEM_RESET: 0x8400_0009,
} as const;

/** The SMC64 variants (PSCI_0_2_FN64_<name>): arguments that are addresses are 64-bit. */
export const PsciFunction64 = {
  CPU_SUSPEND: 0xc400_0001,
  CPU_ON: 0xc400_0003,
  AFFINITY_INFO: 0xc400_0004,
  MIGRATE: 0xc400_0005,
  MIGRATE_INFO_UP_CPU: 0xc400_0007,
} as const;

/** PSCI return codes (PSCI_RET_<name>), as the signed values the guest sees in x0. */
export const PsciReturn = {
  SUCCESS: 0,
  NOT_SUPPORTED: -1,
  INVALID_PARAMS: -2,
  DENIED: -3,
  ALREADY_ON: -4,
  ON_PENDING: -5,
  INTERNAL_FAILURE: -6,
  NOT_PRESENT: -7,
  DISABLED: -8,
} as const;
