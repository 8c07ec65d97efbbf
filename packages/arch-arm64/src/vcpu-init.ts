/**
 * vCPU initialisation (arm64.md §3): nothing — ONE_REG, REG_LIST, KVM_RUN — works on an arm64
 * vCPU before KVM_ARM_VCPU_INIT. Every vCPU gets the host's preferred target and PSCI 0.2 (KVM
 * then implements CPU_ON/CPU_OFF in the kernel and reports SYSTEM_OFF/RESET as system events);
 * all but vCPU 0 start powered off, waiting for a CPU_ON, as Firecracker does.
 */
import { ConfigError, KvmCap, kvmIoctl, type KvmVM } from '@kvmts/core';
import { ARM64_MPIDR_EL1, Arm64Ioctl, Arm64VcpuFeature, Arm64VcpuInitLayout } from './abi';
import { OneRegIo } from './state/one-reg-io';

/** Initialise every vCPU of `vm`; returns each one's MPIDR_EL1 by vCPU id (KVM assigns it; read, not computed). */
export function initVcpus(vm: KvmVM): bigint[] {
  if (!vm.hasCapability(KvmCap.ARM_PSCI_0_2)) throw new ConfigError('arch', 'this KVM lacks KVM_CAP_ARM_PSCI_0_2, which kvmts needs to start and stop arm64 vCPUs');
  const init = new DataView(new ArrayBuffer(Arm64VcpuInitLayout.size));
  kvmIoctl(vm.fd, Arm64Ioctl.ARM_PREFERRED_TARGET, 'KVM_ARM_PREFERRED_TARGET', init);
  const mpidrs: bigint[] = [];
  for (const id of vm.vcpuIds) {
    const vcpu = vm.vcpu(id)!;
    const features = (1 << Arm64VcpuFeature.PSCI_0_2) | (id > 0 ? 1 << Arm64VcpuFeature.POWER_OFF : 0);
    init.setUint32(Arm64VcpuInitLayout.fields.features.offset, features, true);
    kvmIoctl(vcpu.fd, Arm64Ioctl.ARM_VCPU_INIT, `KVM_ARM_VCPU_INIT(vCPU ${id})`, init);
    const io = new OneRegIo(vcpu.fd);
    try {
      mpidrs[id] = io.get(ARM64_MPIDR_EL1.id);
    } finally {
      io.close();
    }
  }
  return mpidrs;
}
