import type { ClassProvider, DependencyContainer, FactoryProvider } from 'tsyringe';
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { MemoryRegionOptions } from '../vm/memory-region';
import type { GuestMemory } from '../vm/guest-memory';
import type { AddressSpace } from '../bus/address-bus';
import type { KvmCPU } from '../cpu/kvm-cpu';
import type { ThreadContext } from '../cpu/thread-context';
import type { MachineConfig } from './machine-config';
import type { DeviceSpec } from './device-plugin';
import type { IrqLines } from '../vm/irq-line';
import type { ArchCheckpointSupport } from '../checkpoint/component';
import type { BootBytes } from '../files/boot-file';

/** How an arch plugin's CPU is built in a vCPU's container (its VCPU_SETUP is registered there). */
export type CpuProvider<InitialState, TC extends ThreadContext> =
  | ClassProvider<KvmCPU<InitialState, TC>>
  | FactoryProvider<KvmCPU<InitialState, TC>>;

/**
 * An instruction-set plugin, typed by its boot payload (`MachineConfig.boot`), the per-vCPU
 * initial state its prepareBoot hands to its CPUs, and its ThreadContext. Registered in a
 * container under ARCH_PLUGIN by the module named in `module`, which every vCPU worker thread
 * loads again.
 *
 * Calls happen in this order, on the threads named (core's prepareVm/buildVcpu write it down once):
 *   main:   vmType → configureVm (before any vCPU: e.g. x86 TSS, irqchip) → memoryLayout
 *           → vCPUs created → prepareBoot (writes images into guest memory; returns the
 *           per-vCPU initial state as structured-cloneable data)
 *   worker: the CPU is resolved from KVM_CPU (default: `cpu` below) → applyInitialState → runLoop
 */
export interface ArchPlugin<Boot = unknown, InitialState = unknown, TC extends ThreadContext = ThreadContext> {
  /** Architecture name used in MachineConfig.arch, e.g. 'x86_64'. */
  readonly arch: string;
  /** Module specifier that registers this plugin (loaded by every vCPU worker). */
  readonly module: string;
  /** Address spaces besides MMIO (which every arch has): x86 declares port I/O. */
  readonly addressSpaces: readonly AddressSpace[];
  /** The CPU's default registration under KVM_CPU (a user's registration there wins). */
  readonly cpu: CpuProvider<InitialState, TC>;
  vmType(kvm: Kvm, config: MachineConfig<Boot>): number;
  configureVm(vm: KvmVM, config: MachineConfig<Boot>): void;
  /** Regions for `memory: <bytes>` (x86 leaves the 32-bit MMIO hole unmapped, for example). */
  memoryLayout(bytes: number): MemoryRegionOptions[];
  /** Load the boot payload and return the initial state of each vCPU (index = vCPU id). */
  prepareBoot(vm: KvmVM, memory: GuestMemory, config: MachineConfig<Boot>): InitialState[];
  /**
   * A ThreadContext from its plain-data form (`ThreadContext.toJSON()`, e.g. after crossing a
   * thread or being read from a checkpoint). Throws ConfigError naming a missing or bad field.
   */
  threadContextFromData(data: unknown): TC;
  /**
   * Checkpoint support: the CPU fingerprint, the in-kernel VM state and the version of the
   * ThreadContext's data form. Absent: checkpointing a machine of this arch fails, naming it.
   */
  readonly checkpoint?: ArchCheckpointSupport;
  /**
   * Where device interrupt lines go when KVM_IRQ_LINE is not the answer (no in-kernel irqchip:
   * x86's userspace interrupt controller). Called once in every thread that hosts devices, with
   * the VM fd and a vCPU's initial state (the main thread passes vCPU 0's), so state shared by
   * the threads travels in the initial state. Absent or returning undefined: KVM_IRQ_LINE.
   */
  irqLines?(vmFd: number, initialState: InitialState): IrqLines | undefined;
  /**
   * How this arch boots a Linux kernel on a machine of its own choosing (`kvmts boot`, and
   * any tool that only has a kernel in hand): the boot payload, the devices Linux expects (its
   * console UART first) and the console to type into. Optional: a plugin without it cannot be
   * asked to boot Linux (linuxBootProfile() says so by name).
   */
  linuxBoot?(request: LinuxBootRequest): LinuxBootProfile<Boot>;
  /**
   * The same for a kernel and initrd that may still be in their files (BootFile): a plugin
   * whose loader places them itself (placeBootBytes) reads them straight into guest RAM. Without
   * it, linuxBootProfile() reads the files into memory for linuxBoot.
   */
  linuxBootFromFiles?(request: LinuxBootFilesRequest): LinuxBootProfile<Boot>;
  /**
   * True: the BootFile reads this plugin's prepareBoot asks for (placeBootBytes) may happen
   * after it returns — a machine then reads them on libuv's thread pool while its vCPUs are
   * built and its caller's whileBootFilesLoad runs (the read of a large kernel overlaps them). Only for a prepareBoot that
   * neither reads back nor patches bytes it placed from a file, and a CPU that does not read
   * guest RAM before it runs. Absent or false: placeBootBytes reads at once, as documented there.
   */
  readonly deferBootFileReads?: boolean;
}

/** A Linux kernel and what goes with it, as a user hands them over (`kvmts boot`). */
export interface LinuxBootRequest {
  /** The kernel image as the arch's loader takes it (arm64: an Image; x86: a bzImage). */
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  /** Extra kernel command-line words; the plugin adds its console argument unless one is given. */
  readonly append?: string;
  /** The machine's RAM and vCPU count, for the devices and firmware tables that describe them. */
  readonly memory?: number;
  readonly cpus?: number;
}

/** A LinuxBootRequest whose kernel and initrd may still be in their files (`kvmts boot`'s). */
export interface LinuxBootFilesRequest extends Omit<LinuxBootRequest, 'kernel' | 'initrd'> {
  readonly kernel: BootBytes;
  readonly initrd?: BootBytes;
}

/** The machine an arch plugin builds around a Linux kernel. */
export interface LinuxBootProfile<Boot = unknown> {
  readonly boot: Boot;
  /** Devices Linux needs on this arch (the console UART among them). */
  readonly devices: readonly DeviceSpec[];
  /** Instance name of the console device: host input goes to its pushInput(). */
  readonly consoleDevice: string;
  /** The full kernel command line the boot payload carries (for summaries). */
  readonly cmdline: string;
  readonly archOptions?: unknown;
  /**
   * Set by linuxBootProfile() when it read BootFiles into memory for a plugin without
   * linuxBootFromFiles: those bytes, which the caller may release once the machine is built.
   */
  readonly readInputs?: readonly Uint8Array[];
}

/** A device that takes console input from the host (the UARTs): returns how many bytes it accepted. */
export interface ConsoleInput {
  pushInput(data: Uint8Array): number;
}

/** What a plugin module exports: a function that registers its plugins in the given container. */
export interface PluginModule {
  register(container: DependencyContainer): void;
}
