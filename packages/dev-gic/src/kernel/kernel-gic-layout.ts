/**
 * Where the in-kernel GIC's frames sit in guest-physical space (QEMU virt's places, which
 * arch-arm64's layout follows), and their sizes as KVM requires them (Linux Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic-its.rst).
 */
import { ARM64_LAYOUT } from '@kvmts/arch-arm64';

export const KERNEL_GIC_LAYOUT = {
  /** vGICv3 distributor (64 KiB) and redistributors (2 × 64 KiB per vCPU): arch-arm64's. */
  v3Distributor: ARM64_LAYOUT.gicDistributor,
  v3DistributorBytes: ARM64_LAYOUT.gicDistributorBytes,
  v3Redistributors: ARM64_LAYOUT.gicRedistributors,
  v3RedistributorBytesPerCpu: ARM64_LAYOUT.gicRedistributorBytesPerCpu,
  v3RedistributorsEnd: ARM64_LAYOUT.gicRedistributorsEnd,
  /** The ITS control and translation frames (2 × 64 KiB, 64 KiB aligned), between distributor and redistributors. */
  its: 0x0808_0000,
  itsBytes: 0x2_0000,
  /** vGICv2: distributor (4 KiB) and CPU interface (8 KiB: GICC_DIR at +0x1000). */
  v2Distributor: ARM64_LAYOUT.gicDistributor,
  v2DistributorBytes: 0x1000,
  v2CpuInterface: 0x0801_0000,
  v2CpuInterfaceBytes: 0x2000,
} as const;

/** A GICv2 has at most 8 CPU interfaces (the one constant the userspace model uses too). */
export { GICV2_MAX_CPUS } from '../gicv2/storage';
