import type { DependencyContainer, FactoryProvider, InjectionToken, ValueProvider, ClassProvider } from 'tsyringe';
import { Kvm } from '../kvm/kvm';
import type { KvmVM, KvmVmOptions } from '../vm/kvm-vm';
import { DefaultKvmVM } from '../vm/default-kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import type { MemoryRegion, MemoryRegionOptions } from '../vm/memory-region';
import type { VcpuHandles } from '../vm/vcpu-fd';
import { attachMmioServedRegions } from '../vm/mmio-served-regions';
import { ConfigError } from '../errors/errors';
import { KvmCap } from '../abi/capabilities';
import { describeValue } from '../errors/describe-value';
import { AddressBuses } from '../bus/address-bus';
import type { CpuOptions, KvmCPU, VcpuSetup } from '../cpu/kvm-cpu';
import { ADDRESS_BUSES, KVM, KVM_CPU, KVM_VM, MACHINE_CONFIG, VCPU_SETUP, VM_OPTIONS } from '../di/tokens';
import { createMachineContainer } from '../di/container';
import type { ArchPlugin } from './arch-plugin';
import type { MachineConfig } from './machine-config';
import { parseSize } from './machine-config';
import { checkGuestMemorySize, guestMemoryLimit } from './memory-limit';
import { deferBootFileReads } from '../files/boot-file';

/** A VM built from a config, its vCPUs created and the boot payload loaded; nothing runs yet. */
export interface PreparedVm<InitialState = unknown> {
  /** The container the VM was resolved from (KVM, KVM_VM, VM_OPTIONS, MACHINE_CONFIG hold the live objects). */
  readonly container: DependencyContainer;
  readonly kvm: Kvm;
  readonly vm: KvmVM;
  readonly memory: GuestMemory;
  readonly vcpus: readonly VcpuHandles[];
  /** What arch.prepareBoot returned, one entry per vCPU id. */
  readonly initialStates: readonly InitialState[];
  /**
   * Reads the boot images prepareBoot placed from their files (core's BootFile) into guest
   * RAM, when prepareVm was asked to defer them (`deferBootFileReads`: the caller has them read on
   * libuv's thread pool while the vCPUs build, machine.ts), then before the guest runs. Settles
   * when every read has ended. Otherwise a no-op.
   */
  readonly readBootFiles: () => Promise<void>;
  close(): void;
}

/** config.cpus, checked. */
export function vcpuCount(config: MachineConfig): number {
  const cpus = config.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1) throw new ConfigError('cpus', `must be a positive integer, got ${describeValue(cpus)}`);
  return cpus;
}

/** The memory regions a config asks for: its explicit list, or the arch's layout of its size. */
export function machineMemoryRegions(config: MachineConfig, arch: Pick<ArchPlugin, 'memoryLayout'>): MemoryRegionOptions[] {
  if (Array.isArray(config.memory)) {
    config.memory.forEach((r, i) => {
      if (typeof r !== 'object' || r === null) throw new ConfigError(`memory[${i}]`, `must be a region { name, guestPhysAddr, size }, got ${describeValue(r)}`);
    });
    return config.memory as MemoryRegionOptions[];
  }
  const bytes = parseSize(config.memory as number | string);
  if (bytes === undefined) throw new ConfigError('memory', `${describeValue(config.memory)} is not a size (use bytes or a string like '64M')`);
  return arch.memoryLayout(bytes);
}

type Provider<T> = ClassProvider<T> | FactoryProvider<T> | ValueProvider<T>;

/**
 * Resolve `token` once and pin the live object in `container`: a registration the user made
 * (here or in a parent) is used when there is one, `fallback` otherwise. Afterwards resolving
 * the token from this container yields exactly the object the machine uses.
 */
export function resolveAndPin<T>(container: DependencyContainer, token: InjectionToken<T>, fallback: Provider<T>): T {
  if (!container.isRegistered(token, true)) container.register(token, fallback as ClassProvider<T>);
  const value = container.resolve<T>(token);
  container.registerInstance(token, value);
  return value;
}

/**
 * KVM handles and VMs in use by a prepared VM. A machine owns what it resolves and closes it
 * with itself, so the same object must not serve two at once: a registration under KVM or
 * KVM_VM must build a new one per resolution (useClass, useFactory), not hand out an instance.
 */
const inUse = new WeakSet<object>();

function claim<T extends object>(value: T, token: string): T {
  if (inUse.has(value)) throw new ConfigError('container', `the object registered under ${token} is already used by another machine: register a class or a factory, so that each machine gets its own`);
  inUse.add(value);
  return value;
}

/**
 * The VM set-up sequence, written down once (DESIGN: no hidden ordering): open KVM, create
 * the VM, arch configuration that must precede vCPUs, memory, coalesced zones, vCPUs, then
 * the boot payload. KVM and the VM are resolved from `container` (the machine's composition
 * root), so a user's registration under KVM or KVM_VM is the one used. On failure everything
 * created so far is released.
 */
export function prepareVm<Boot, InitialState>(
  config: MachineConfig<Boot>,
  arch: ArchPlugin<Boot, InitialState>,
  container: DependencyContainer = createMachineContainer(),
  options: { readonly deferBootFileReads?: boolean } = {},
): PreparedVm<InitialState> {
  const cpus = vcpuCount(config);
  // Every region is checked against the host's bound before KVM is even opened.
  const regions = machineMemoryRegions(config, arch);
  const requested = regions.reduce((sum, r) => sum + (Number.isSafeInteger(r.size) && r.size > 0 ? r.size : 0), 0);
  checkGuestMemorySize(requested, guestMemoryLimit(config.memoryLimit));
  container.registerInstance(MACHINE_CONFIG, config);
  const kvm = claim(resolveAndPin<Kvm>(container, KVM, { useFactory: () => Kvm.open(config.kvmPath) }), 'KVM');
  let vm: KvmVM | undefined;
  try {
    // The user's VM_OPTIONS (e.g. maxMemorySlots) with the arch plugin's VM type.
    const userOptions = container.isRegistered(VM_OPTIONS, true) ? container.resolve<KvmVmOptions>(VM_OPTIONS) : {};
    const vmOptions: KvmVmOptions = { ...userOptions, type: arch.vmType(kvm, config) };
    container.registerInstance(VM_OPTIONS, vmOptions);
    vm = claim(resolveAndPin<KvmVM>(container, KVM_VM, { useClass: DefaultKvmVM }), 'KVM_VM');
    arch.configureVm(vm, config);
    for (const r of regions) vm.addMemoryRegion(r);
    for (const z of config.coalesced ?? []) vm.addCoalescedZone(z);
    // Before the first vCPU: a count KVM cannot run is refused whole, not after creating hundreds.
    const maxVcpus = vm.checkExtension(KvmCap.MAX_VCPUS);
    if (maxVcpus > 0 && cpus > maxVcpus) throw new ConfigError('cpus', `${cpus} vCPUs requested; this KVM runs at most ${maxVcpus} in one VM (KVM_CAP_MAX_VCPUS)`);
    const vcpus: VcpuHandles[] = [];
    for (let id = 0; id < cpus; id++) vcpus.push(vm.createVcpu(id).describe());
    vm.lifecycle.moveTo('ready');
    const memory = vm.memory();
    const theVm = vm;
    // Deferred only for a caller that says it reads them (Machine.create); anyone else gets a
    // VM whose guest RAM already holds the boot images, and readBootFiles does nothing.
    const layOut = () => arch.prepareBoot(theVm, memory, config);
    const { result: initialStates, readFiles: readBootFiles } = options.deferBootFileReads ? deferBootFileReads(layOut) : { result: layOut(), readFiles: () => Promise.resolve() };
    return {
      container,
      kvm,
      vm,
      memory,
      vcpus,
      initialStates,
      readBootFiles,
      close() {
        theVm.close();
        kvm.close();
        inUse.delete(theVm);
        inUse.delete(kvm);
      },
    };
  } catch (e) {
    if (vm) {
      vm.close();
      inUse.delete(vm);
    }
    kvm.close();
    inUse.delete(kvm);
    throw e;
  }
}

/** What it takes to build the CPU of one vCPU, as plain data (a vCPU worker receives exactly this). */
export interface VcpuBuildInfo<InitialState = unknown> {
  readonly handles: VcpuHandles;
  readonly vmFd: number;
  readonly vcpuCount: number;
  readonly regions: readonly MemoryRegion[];
  readonly initialState: InitialState;
}

/** The build info of every vCPU of a prepared VM. */
export function vcpuBuildInfos<InitialState>(prepared: PreparedVm<InitialState>): VcpuBuildInfo<InitialState>[] {
  return prepared.vcpus.map((handles) => ({
    handles,
    vmFd: prepared.vm.fd,
    vcpuCount: prepared.vcpus.length,
    regions: prepared.vm.regions,
    initialState: prepared.initialStates[handles.id],
  }));
}

/** A CPU and the container it was resolved from (a child of the thread's container). */
export interface BuiltVcpu<CPU> {
  readonly container: DependencyContainer;
  readonly cpu: CPU;
}

/**
 * Build the CPU of one vCPU on the calling thread, in a child of `threadContainer`: the buses
 * (ADDRESS_BUSES), the setup (VCPU_SETUP) and the CPU (KVM_CPU: the user's registration if
 * there is one, else the arch plugin's), then its initial state and the memory served over
 * MMIO. The vCPU workers do this; so do tests and benchmarks that drive a CPU synchronously.
 */
export function buildVcpu<InitialState, CPU extends KvmCPU<InitialState> = KvmCPU<InitialState>>(
  threadContainer: DependencyContainer,
  arch: Pick<ArchPlugin<never, InitialState>, 'addressSpaces' | 'cpu'>,
  info: VcpuBuildInfo<InitialState>,
  options: CpuOptions = {},
): BuiltVcpu<CPU> {
  const container = threadContainer.createChildContainer();
  const buses = resolveAndPin<AddressBuses>(container, ADDRESS_BUSES, { useFactory: () => new AddressBuses(arch.addressSpaces) });
  const setup: VcpuSetup = { handles: info.handles, buses, options: { ...options, vmFd: info.vmFd, vcpuCount: info.vcpuCount, memoryRegions: info.regions } };
  container.registerInstance(VCPU_SETUP, setup);
  const cpu = resolveAndPin<KvmCPU<InitialState>>(container, KVM_CPU, arch.cpu) as CPU;
  cpu.applyInitialState(info.initialState);
  attachMmioServedRegions(buses.mmio, info.regions);
  return { container, cpu };
}
