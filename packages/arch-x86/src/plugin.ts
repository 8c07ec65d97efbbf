import type { DependencyContainer } from 'tsyringe';
import {
  ARCH_PLUGIN,
  ConfigError,
  DEVICE_PLUGIN,
  kvmIoctl,
  type ArchPlugin,
  type CpuOptions,
  type GuestMemory,
  type KvmVM,
  type MachineConfig,
  type MemoryRegionOptions,
  type VcpuHandles,
} from '@kvmts/core';
import { X86Ioctl } from './abi/ioctls';
import { X86KvmCPU, type X86InitialState } from './cpu';
import { X86_LAYOUT } from './layout';
import { cpuidForVcpu, getSupportedCpuid } from './state/cpuid';
import { loadFlatImage, type X86FlatBoot } from './loader/flat-image';
import { exitDevicePlugin, uart8250Plugin } from './devices';
import { ARCH_X86_MODULE } from './module-name';


/**
 * The x86-64 ArchPlugin. VM set-up order is written down here once (x86-64.md §4): TSS address
 * before vCPUs; CPUID is the first thing set on each vCPU (KVM derives MSR, XSAVE and LAPIC
 * behaviour from it); then special registers, then general registers.
 */
export const x86ArchPlugin: ArchPlugin = {
  arch: 'x86_64',
  module: ARCH_X86_MODULE,

  vmType(): number {
    return 0;
  },

  configureVm(vm: KvmVM): void {
    // Intel KVM needs three pages for the real-mode TSS; harmless elsewhere.
    kvmIoctl(vm.fd, X86Ioctl.SET_TSS_ADDR, 'KVM_SET_TSS_ADDR', X86_LAYOUT.tssAddress);
  },

  memoryLayout(bytes: number): MemoryRegionOptions[] {
    const low = Math.min(bytes, X86_LAYOUT.mmioHoleStart);
    const regions: MemoryRegionOptions[] = [{ name: 'ram-low', guestPhysAddr: 0, size: low }];
    if (bytes > low) regions.push({ name: 'ram-high', guestPhysAddr: X86_LAYOUT.highRamStart, size: bytes - low });
    return regions;
  },

  prepareBoot(vm: KvmVM, memory: GuestMemory, config: MachineConfig): X86InitialState[] {
    const cpus = config.cpus ?? 1;
    const supported = getSupportedCpuid(vm.kvm);
    const ramBelow4G = vm.regions.filter((r) => r.confReported && r.guestPhysAddr < 2 ** 32).reduce((end, r) => Math.max(end, Math.min(r.guestPhysAddr + r.size, 2 ** 32)), 0);
    let regs: X86InitialState[] = [];
    const boot = config.boot as X86FlatBoot | undefined;
    if (boot !== undefined) {
      if (boot.kind !== 'flat') throw new ConfigError('boot.kind', `unsupported x86 boot kind '${String((boot as { kind: unknown }).kind)}' (supported: 'flat')`);
      regs = loadFlatImage(boot, memory, cpus, ramBelow4G);
    }
    return Array.from({ length: cpus }, (_, id) => ({ cpuid: cpuidForVcpu(supported, id, cpus), ...regs[id] }));
  },

  createCpu(handles: VcpuHandles, options: CpuOptions): X86KvmCPU {
    return new X86KvmCPU(handles, options);
  },
};

/** Module entry for kvmts: register the x86 arch plugin and its devices in `container`. */
export function register(container: DependencyContainer): void {
  container.register(ARCH_PLUGIN, { useValue: x86ArchPlugin });
  container.register(DEVICE_PLUGIN, { useValue: uart8250Plugin });
  container.register(DEVICE_PLUGIN, { useValue: exitDevicePlugin });
}
