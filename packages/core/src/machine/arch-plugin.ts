import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { MemoryRegionOptions } from '../vm/memory-region';
import type { GuestMemory } from '../vm/guest-memory';
import type { VcpuHandles } from '../vm/vcpu-fd';
import type { BaseKvmCPU, CpuOptions } from '../cpu/base-kvm-cpu';
import type { MachineConfig } from './machine-config';

/**
 * An instruction-set plugin. Registered in a container under ARCH_PLUGIN by the module named in
 * `module`, which every vCPU worker thread loads again to build its CPU.
 *
 * Calls happen in this order, on the threads named:
 *   main:   vmType → configureVm (before any vCPU: e.g. x86 TSS, irqchip) → memoryLayout
 *   main:   prepareBoot (writes images into guest memory; returns per-vCPU initial state as
 *           plain structured-cloneable data)
 *   worker: createCpu → cpu.applyInitialState(state) → cpu.runLoop()
 */
export interface ArchPlugin {
  /** Architecture name used in MachineConfig.arch, e.g. 'x86_64'. */
  readonly arch: string;
  /** Module specifier that registers this plugin (loaded by every vCPU worker). */
  readonly module: string;
  vmType(kvm: Kvm, config: MachineConfig): number;
  configureVm(vm: KvmVM, config: MachineConfig): void;
  /** Regions for `memory: <bytes>` (x86 leaves the 32-bit MMIO hole unmapped, for example). */
  memoryLayout(bytes: number): MemoryRegionOptions[];
  /** Load the boot payload and return the initial state of each vCPU (index = vCPU id). */
  prepareBoot(vm: KvmVM, memory: GuestMemory, config: MachineConfig): unknown[];
  createCpu(handles: VcpuHandles, options: CpuOptions & { vmFd: number; vcpuCount: number }): BaseKvmCPU & InitialStateTarget;
}

/** CPUs built by arch plugins accept the initial state their plugin's prepareBoot produced. */
export interface InitialStateTarget {
  applyInitialState(state: unknown): void;
}

/** What a plugin module exports: a function that registers its plugins in the given container. */
export interface PluginModule {
  register(container: import('tsyringe').DependencyContainer): void;
}
