/**
 * A minimal in-kernel vGICv3 (until the dev-gic package lands): create the device, place the
 * distributor and redistributors, size it, initialise it. Ordering (gic.md §1, arm-vgic-v3.rst):
 * every vCPU must exist — and, as QEMU and kvmtool do, be initialised — before CTRL_INIT, which
 * sizes the redistributors; KVM_CREATE_VCPU fails afterwards.
 */
import { ConfigError, type KvmDevice, type KvmVM } from '@kvmts/core';
import { Arm64KvmDeviceType, Arm64VgicAddrType, Arm64VgicCtrl, Arm64VgicGroup } from '../abi';
import { ARM64_LAYOUT } from '../layout';

export interface VgicV3Options {
  readonly vcpus: number;
  /** NR_IRQS: INTIDs including the 32 SGIs and PPIs. */
  readonly irqs: number;
}

/** Guest-physical frames of a vGICv3 with `vcpus` redistributors (ConfigError when they do not fit the layout). */
export function vgicV3Frames(vcpus: number): { distributor: number; distributorBytes: number; redistributors: number; redistributorBytes: number } {
  const L = ARM64_LAYOUT;
  const redistributorBytes = vcpus * L.gicRedistributorBytesPerCpu;
  const room = L.gicRedistributorsEnd - L.gicRedistributors;
  if (redistributorBytes > room) throw new ConfigError('cpus', `the vGICv3 layout has redistributor frames for ${room / L.gicRedistributorBytesPerCpu} vCPUs, not ${vcpus}`);
  return { distributor: L.gicDistributor, distributorBytes: L.gicDistributorBytes, redistributors: L.gicRedistributors, redistributorBytes };
}

/** Create and initialise the in-kernel vGICv3 of `vm`, whose vCPUs all exist and are initialised. */
export function createVgicV3(vm: KvmVM, options: VgicV3Options): KvmDevice {
  const frames = vgicV3Frames(options.vcpus);
  if (!vm.canCreateDevice(Arm64KvmDeviceType.ARM_VGIC_V3)) {
    throw new ConfigError('archOptions.gic', "this KVM cannot create an in-kernel vGICv3 (the host needs a GICv3); use gic: 'none' for guests without interrupts");
  }
  const gic = vm.createDevice(Arm64KvmDeviceType.ARM_VGIC_V3);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V3_ADDR_TYPE_DIST, frames.distributor);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V3_ADDR_TYPE_REDIST, frames.redistributors);
  gic.setAttr(Arm64VgicGroup.NR_IRQS, 0, options.irqs);
  gic.setAttr(Arm64VgicGroup.CTRL, Arm64VgicCtrl.VGIC_CTRL_INIT);
  return gic;
}
