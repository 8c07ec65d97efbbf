/**
 * C macro prefix of every name table of this package (entry K of table T is `<prefix>K`). The
 * ABI test checks each table against the arm64 headers and fails on a table missing here.
 */
export const Arm64AbiTablePrefixes = {
  Arm64Ioctl: 'KVM_',
  Arm64VcpuFeature: 'KVM_ARM_VCPU_',
  Arm64Target: 'KVM_ARM_TARGET_',
  Arm64SpsrIndex: 'KVM_SPSR_',
  Arm64VgicGroup: 'KVM_DEV_ARM_VGIC_GRP_',
  Arm64VgicAddrType: 'KVM_VGIC_',
  Arm64VgicCtrl: 'KVM_DEV_ARM_',
  Arm64VcpuAttrGroup: 'KVM_ARM_VCPU_',
  Arm64TimerAttr: 'KVM_ARM_VCPU_TIMER_',
  Arm64IrqLineField: 'KVM_ARM_IRQ_',
  Arm64IrqType: 'KVM_ARM_IRQ_TYPE_',
  Arm64IrqCpuLine: 'KVM_ARM_IRQ_CPU_',
  Arm64DeviceIrqLevel: 'KVM_ARM_DEV_',
  Arm64GuestDebug: 'KVM_GUESTDBG_',
  Arm64SysRegField: 'KVM_REG_ARM64_SYSREG_',
  PsciFunction: 'PSCI_0_2_FN_',
  PsciFunction64: 'PSCI_0_2_FN64_',
  PsciReturn: 'PSCI_RET_',
} as const;
