import { Kvm } from '../kvm/kvm';
import { KvmVM } from '../vm/kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import type { MemoryRegion, MemoryRegionOptions } from '../vm/memory-region';
import type { VcpuHandles } from '../vm/vcpu-fd';
import { attachMmioServedRegions } from '../vm/mmio-served-regions';
import { ConfigError } from '../errors/errors';
import type { BaseKvmCPU, CpuOptions } from '../cpu/base-kvm-cpu';
import type { ArchPlugin, InitialStateTarget } from './arch-plugin';
import type { MachineConfig } from './machine-config';
import { parseSize } from './machine-config';

/** A VM built from a config, its vCPUs created and the boot payload loaded; nothing runs yet. */
export interface PreparedVm {
  readonly kvm: Kvm;
  readonly vm: KvmVM;
  readonly memory: GuestMemory;
  readonly vcpus: readonly VcpuHandles[];
  /** What arch.prepareBoot returned, one entry per vCPU id. */
  readonly initialStates: readonly unknown[];
  close(): void;
}

/** config.cpus, checked. */
export function vcpuCount(config: MachineConfig): number {
  const cpus = config.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1) throw new ConfigError('cpus', `must be a positive integer, got ${cpus}`);
  return cpus;
}

function memoryRegions(config: MachineConfig, arch: ArchPlugin): MemoryRegionOptions[] {
  if (Array.isArray(config.memory)) return config.memory as MemoryRegionOptions[];
  const bytes = parseSize(config.memory as number | string);
  if (bytes === undefined) throw new ConfigError('memory', `'${String(config.memory)}' is not a size (use bytes or a string like '64M')`);
  return arch.memoryLayout(bytes);
}

/**
 * The VM set-up sequence, written down once (DESIGN: no hidden ordering): open KVM, create
 * the VM, arch configuration that must precede vCPUs, memory, coalesced zones, vCPUs, then
 * the boot payload. On failure everything created so far is released.
 */
export function prepareVm(config: MachineConfig, arch: ArchPlugin): PreparedVm {
  const cpus = vcpuCount(config);
  const kvm = Kvm.open(config.kvmPath);
  let vm: KvmVM | undefined;
  try {
    vm = new KvmVM(kvm, arch.vmType(kvm, config));
    arch.configureVm(vm, config);
    for (const r of memoryRegions(config, arch)) vm.addMemoryRegion(r);
    for (const z of config.coalesced ?? []) vm.addCoalescedZone(z);
    const vcpus: VcpuHandles[] = [];
    for (let id = 0; id < cpus; id++) vcpus.push(vm.createVcpu(id).describe());
    vm.lifecycle.moveTo('ready');
    const memory = vm.memory();
    const initialStates = arch.prepareBoot(vm, memory, config);
    const theVm = vm;
    return {
      kvm,
      vm,
      memory,
      vcpus,
      initialStates,
      close() {
        theVm.close();
        kvm.close();
      },
    };
  } catch (e) {
    vm?.close();
    kvm.close();
    throw e;
  }
}

/** What it takes to build the CPU of one vCPU, as plain data (a vCPU worker receives exactly this). */
export interface VcpuBuildInfo {
  readonly handles: VcpuHandles;
  readonly vmFd: number;
  readonly vcpuCount: number;
  readonly regions: readonly MemoryRegion[];
  readonly initialState: unknown;
}

/** The build info of every vCPU of a prepared VM. */
export function vcpuBuildInfos(prepared: PreparedVm): VcpuBuildInfo[] {
  return prepared.vcpus.map((handles) => ({
    handles,
    vmFd: prepared.vm.fd,
    vcpuCount: prepared.vcpus.length,
    regions: prepared.vm.regions,
    initialState: prepared.initialStates[handles.id],
  }));
}

/**
 * Build the CPU of one vCPU on the calling thread: the arch plugin's CPU, its initial state,
 * and the memory served over MMIO. The vCPU workers do this; so do tests and benchmarks that
 * drive a CPU synchronously.
 */
export function buildCpu(arch: ArchPlugin, info: VcpuBuildInfo, options: CpuOptions = {}): BaseKvmCPU & InitialStateTarget {
  const cpu = arch.createCpu(info.handles, { ...options, vmFd: info.vmFd, vcpuCount: info.vcpuCount });
  cpu.applyInitialState(info.initialState);
  attachMmioServedRegions(cpu.mmio, info.regions);
  return cpu;
}
