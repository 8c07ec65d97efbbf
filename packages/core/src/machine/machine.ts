import { simTimeConfig } from '../timing/sim-time';
import type { DependencyContainer } from 'tsyringe';
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import { IrqLineSwitch } from '../vm/irq-line-switch';
import type { GuestMemory } from '../vm/guest-memory';
import type { Device } from '../bus/device';
import { ConfigError, LifecycleError, UserCallbackError, type KvmtsError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { ADDRESS_BUSES, KVM_CPU, VCPU_SETUP, deviceToken } from '../di/tokens';
import { createMachineContainer } from '../di/container';
import { STAT_SLOTS } from '../cpu/exit-stats';
import { CONTROL_INTS } from '../cpu/vcpu-control';
import type { ExitCounts } from '../cpu/exit-stats';
import { Stop, type CpuStop } from '../cpu/cpu-stop';
import type { ArchPlugin } from './arch-plugin';
import type { MachineConfig } from './machine-config';
import { machineMemoryRegions, prepareVm, vcpuBuildInfos, vcpuCount } from './prepare-vm';
import { checkMachineAddressMap } from './address-map';
import { archPluginFor, loadPlugins, registeredArchs } from './plugin-registry';
import { findInstalledArchPlugins, installedArchModule, type InstalledArchPlugin } from './arch-discovery';
import { attachDevices, prepareDevices, type MachineDevice } from './devices';
import { vcpuWorkerPool, vcpuWorkerScript } from './vcpu-worker-pool';
import { VcpuController, type VcpuHome, type VcpuStop } from './vcpu-controller';
import type { VcpuWorkerData } from './worker-protocol';
import { saveMachineCheckpoint, type CheckpointOptions, type TrackingState } from '../checkpoint/save-machine';
import { DirtyPageTracker } from '../checkpoint/dirty-tracker';
import type { MachineRestoreHooks } from '../checkpoint/restore-machine';
import { restoreIntoMachine, type RestoreIntoOptions } from '../checkpoint/restore-into';
import type { CheckpointManifest } from '../checkpoint/manifest';
import { M5ops, type M5opRunEnd } from '../m5ops/m5op-handlers';
import { VcpuSwitch, machineSwitchMemory } from './vcpu-switch';
import type { SwitchMemory } from '../cpu/switching';
import { checkMachineOptions, checkMaxExits } from './config-checks';
import { runRefusal } from './run-lifecycle';
import type { ThreadHeapStatistics } from './thread-heap';
import { machineSwitchHooks, runSwitchHooks, type MachineSwitchHook } from '../cpu/switch-hooks';
import { SwitchHandOff } from './switch-hand-off';
import { ConsoleOrder, createConsoleSequence, takeConsoleSequence } from './console-order';
import { ThreadedIrqLines } from './machine-irq-lines';
import { settleAll } from '../util/settle-all';

/** How a machine run ended: a vCPU's stop (power-off, halt, …), an m5op that ends it, or the first error. */
export type MachineExit = CpuStop | M5opRunEnd | { readonly reason: 'error'; readonly error: KvmtsError };

export interface CreateMachineOptions {
  /**
   * Parent of the machine's container. Registrations there are what the machine resolves
   * (KVM, KVM_VM, VM_OPTIONS; see docs/architecture.md). Default: none — the machine's
   * container is isolated, never tsyringe's global root.
   */
  readonly container?: DependencyContainer;
  /** Receives guest console bytes (default: written to process.stdout). */
  readonly console?: (bytes: Uint8Array) => void;
  /** Put a checkpoint's state back while composing (restoreMachine passes this; see checkpoint/). */
  readonly restore?: MachineRestoreHooks;
  /**
   * Told as composing passes a step, for start-up timing (`kvmts boot --json`'s startupSteps):
   * `vm-prepared` once the VM, its memory and the boot layout are in place in this thread, right
   * before the vCPU threads are asked to build their vCPUs; `boot-files-read` once the boot
   * images held in their files are read into guest RAM, meanwhile (what follows is waiting for
   * the threads).
   */
  readonly onStep?: (step: 'vm-prepared' | 'boot-files-read') => void;
  /**
   * Work to do once the machine is built, while its boot images may still be read into guest
   * RAM (an arch plugin that defers those reads: ArchPlugin.deferBootFileReads) — `kvmts boot`'s
   * start-up garbage collection. createMachine resolves when both are done; a rejection fails it.
   * The guest's memory is not complete until then: read none of it here.
   */
  readonly whileBootFilesLoad?: (machine: Machine) => Promise<void> | void;
  /**
   * Where the vCPUs run (docs/architecture.md, "Where a vCPU runs"): 'worker' (the default), a
   * worker thread per vCPU; 'main', a one-vCPU machine's vCPU on this thread, in slices of
   * `sliceMs` with the event loop turning between them — no second V8 isolate to start, no
   * thread hop per call, but this thread's other work waits up to a slice.
   */
  readonly vcpuThread?: 'worker' | 'main';
  /** With `vcpuThread: 'main'`: a slice's length in milliseconds, 1–1000 (default 20). */
  readonly sliceMs?: number;
}

/** The VcpuHome of every vCPU, from the options (checked before anything opens). */
function vcpuHomeOf(options: CreateMachineOptions, cpus: number): { thread: 'worker' } | VcpuHome {
  const { vcpuThread = 'worker', sliceMs } = options;
  if (vcpuThread !== 'worker' && vcpuThread !== 'main') throw new ConfigError('vcpuThread', `must be 'worker' or 'main', got ${describeValue(vcpuThread)}`);
  if (sliceMs !== undefined && (vcpuThread !== 'main' || typeof sliceMs !== 'number' || !(sliceMs >= 1 && sliceMs <= 1000))) {
    throw new ConfigError('sliceMs', vcpuThread !== 'main' ? "applies to vcpuThread 'main' only" : `must be a number of milliseconds, 1–1000, got ${describeValue(sliceMs)}`);
  }
  if (vcpuThread === 'worker') return { thread: 'worker' };
  if (cpus !== 1) throw new ConfigError('vcpuThread', `'main' runs a one-vCPU machine on this thread; this one has ${cpus} vCPUs (use 'worker')`);
  return { thread: 'main', sliceMs };
}

const DEFAULT_STOP_TIMEOUT_MS = 5000;

/**
 * Load the plugin modules a config needs into `container`, in the order every vCPU thread loads
 * them too: the installed package that declares `config.arch` (`"kvmts": {"arch": …}` in its
 * package.json), then the modules the device specs name, then `config.plugins` — so a user's
 * module, loaded last, wins where it registers the same thing (a KVM_CPU, a device type, even
 * an arch plugin for the same arch). Returns the arch plugin and that module list.
 */
export function loadMachinePlugins(container: DependencyContainer, config: Pick<MachineConfig, 'arch' | 'devices' | 'plugins'>): { arch: ArchPlugin; modules: string[] } {
  const installed = installedArchModule(config.arch);
  const deviceModules = (config.devices ?? []).map((d) => d?.plugin).filter((m): m is string => typeof m === 'string');
  const modules = [...new Set([...(installed ? [moduleSpecifier(installed)] : []), ...deviceModules, ...(config.plugins ?? [])])];
  loadPlugins(container, modules);
  const arch = archPluginFor(container, config.arch);
  if (!arch) {
    const known = [...new Set([...registeredArchs(container), ...findInstalledArchPlugins().map((p) => `${p.arch} (${p.packageName})`)])];
    throw new ConfigError('arch', `no plugin for architecture '${config.arch}': install one (a package whose package.json says "kvmts": {"arch": "${config.arch}"}) or name its module in \`plugins\` (available: ${known.join(', ') || 'none'})`);
  }
  // An arch plugin registered straight into the parent container came from no module: the
  // threads load the module it names.
  if (!modules.includes(arch.module)) modules.unshift(arch.module);
  return { arch, modules };
}

/** The package name when core can require it by name (as the device specs name it), else its directory. */
function moduleSpecifier(installed: InstalledArchPlugin): string {
  try {
    require.resolve(installed.packageName);
    return installed.packageName;
  } catch {
    return installed.module;
  }
}

/**
 * Registrations only a vCPU thread can use: a parent container on the main thread cannot reach
 * the workers, so these must come from a plugin module (see docs/architecture.md).
 */
const VCPU_THREAD_TOKENS = [KVM_CPU, ADDRESS_BUSES, VCPU_SETUP] as const;

function rejectVcpuThreadRegistrations(parent: DependencyContainer | undefined): void {
  for (const token of VCPU_THREAD_TOKENS) {
    if (parent?.isRegistered(token, true)) {
      throw new ConfigError('container', `${String(token.description)} is built in each vCPU thread, which cannot see this container: register it from a plugin module named in \`plugins\` (its register(container) runs in every thread)`);
    }
  }
}

/**
 * A composed machine: a VM, its memory, devices and one worker thread per vCPU. Its container
 * is the composition root (KVM, KVM_VM, MACHINE_CONFIG and every device resolve to the live
 * objects). Create it with createMachine(); run() boots it and resolves when it powers off or
 * stops.
 */
export class Machine<Boot = unknown> {
  private exitResolve: ((e: MachineExit) => void) | undefined;
  private closed = false;
  /** How the last run ended: a power-off or an error refuses the next run() (run-lifecycle.ts). */
  private lastExit: MachineExit | undefined;
  /** Counts run() calls: a vCPU loop of an earlier run never resumes its vCPU into a later one. */
  private runGeneration = 0;
  /** gem5's m5ops: register handlers, read statistics dumps and work items (m5ops/m5op-handlers.ts). */
  readonly m5ops: M5ops;

  private constructor(
    readonly config: MachineConfig<Boot>,
    readonly container: DependencyContainer,
    readonly kvm: Kvm,
    readonly vm: KvmVM,
    readonly arch: ArchPlugin,
    readonly memory: GuestMemory,
    readonly vcpus: readonly VcpuController[],
    private readonly devices: readonly MachineDevice[],
    /** Closes the VM and KVM handle (prepareVm's close: it also ends their claim). */
    private readonly closeVm: () => void,
    /** Every thread's device lines, for the switch hooks (machine-irq-lines.ts). */
    private readonly irqLines: ThreadedIrqLines,
    /** Puts the threads' console messages back in order (console-order.ts). */
    private readonly consoleOrder: ConsoleOrder,
  ) {
    // Here, not as a field initializer: it reads the vCPUs' counters, assigned just above.
    this.m5ops = new M5ops(() => this.exitCounts());
  }

  /** Build a machine from one config object. Nothing runs until run(). */
  static async create<Boot>(config: MachineConfig<Boot>, options: CreateMachineOptions = {}): Promise<Machine<Boot>> {
    checkMachineOptions(config);
    vcpuCount(config); // checked before any plugin loads
    simTimeConfig(config.timing); // so is simulated time
    const home = vcpuHomeOf(options, vcpuCount(config));
    rejectVcpuThreadRegistrations(options.container);
    const container = createMachineContainer(options.container);
    const { arch, modules } = loadMachinePlugins(container, config);
    const devices = prepareDevices(container, config.devices ?? [], arch.addressSpaces); // validated before touching the kernel
    checkMachineAddressMap(container, machineMemoryRegions(config, arch), devices, arch.addressSpaces);
    // The vCPU threads load their modules while this thread sets up the VM (vcpu-worker-pool.ts).
    const vcpuHome: VcpuHome = home.thread === 'worker' ? { thread: 'worker', script: vcpuWorkerScript() } : home;
    if (vcpuHome.thread === 'worker') vcpuWorkerPool.prewarm(vcpuHome.script, vcpuCount(config));

    const prepared = prepareVm(config, arch as ArchPlugin<Boot>, container, { deferBootFileReads: arch.deferBootFileReads === true });
    options.onStep?.('vm-prepared');
    const { kvm, vm, memory } = prepared;
    const vcpus: VcpuController[] = [];
    let bootFilesRead: Promise<void> | undefined;
    try {
      let machine: Machine<Boot> | undefined;
      const consoleSink = options.console ?? ((b: Uint8Array) => process.stdout.write(b));
      // Every thread numbers its console messages from one counter; they reach the sink in that order.
      const consoleSequence = createConsoleSequence();
      const mainThreadSequence = new Uint32Array(consoleSequence);
      const consoleOrder = new ConsoleOrder(consoleSink);
      // The main thread's instances serve host-side access (input, inspection); they sit on no bus.
      // Where the main thread's devices drive their lines: the arch's controller, else KVM_IRQ_LINE.
      const irqLines = new IrqLineSwitch(arch.irqLines?.(vm.fd, prepared.initialStates[0]) ?? { set: (line, level) => vm.setIrqLine(line, level) });
      attachDevices(container, devices, (d) => ({
        name: d.name,
        vcpuId: -1,
        shared: d.shared,
        consoleWrite: (byte) => consoleOrder.deliver(takeConsoleSequence(mainThreadSequence), Uint8Array.of(byte)),
        requestPowerOff: (status) => machine?.finish({ reason: 'poweroff', status }),
        requestReset: () => machine?.finish(Stop.systemReset),
        setIrqLine: (line, level) => irqLines.set(line, level),
        claimIrqLines: (controller) => irqLines.claim(controller, d.name),
      }));
      const parts = { config: config as MachineConfig, container, kvm, vm, arch, memory, devices };
      options.restore?.beforeVcpuThreads(parts);
      for (const info of vcpuBuildInfos(prepared)) {
        const data: VcpuWorkerData = {
          ...info,
          modules,
          arch: config.arch,
          devices,
          stats: new SharedArrayBuffer(STAT_SLOTS * 8),
          control: new SharedArrayBuffer(CONTROL_INTS * 4),
          unclaimed: config.unclaimed ?? 'ignore',
          timing: config.timing,
          consoleSequence,
        };
        // A line a vCPU thread forwards (a switch hook holds the machine's lines) is driven here, as the main thread's devices' are.
        vcpus.push(new VcpuController(info.handles.id, vcpuHome, data, { console: (bytes, seq) => consoleOrder.deliver(seq, bytes), irqLine: (line, level) => irqLines.set(line, level) }));
      }
      // The kernel and initrd read from their files on libuv's thread pool while the vCPUs build
      // and the caller's whileBootFilesLoad runs, for a plugin that allows it
      // (ArchPlugin.deferBootFileReads; otherwise read already: a no-op).
      bootFilesRead = prepared.readBootFiles().then(() => options.onStep?.('boot-files-read'));
      bootFilesRead.catch(() => undefined); // awaited below (or, on an error, before guest RAM goes)
      await Promise.all(vcpus.map((v) => v.whenReady()));
      machine = new Machine(config, container, kvm, vm, arch, memory, vcpus, devices, () => prepared.close(), new ThreadedIrqLines(irqLines, () => vcpus), consoleOrder);
      const built = machine;
      // Both end before either's failure is thrown: the catch below unmaps the RAM they use.
      await settleAll([bootFilesRead, Promise.resolve().then(() => options.whileBootFilesLoad?.(built))]);
      // Asked now rather than at the first switch: a plugin's hook then has the machine's lines however its state is moved (dev-gic's mux, by hand too).
      machine.switchHooks();
      await options.restore?.afterVcpuThreads({ ...parts, vcpus, m5ops: machine.m5ops });
      return machine;
    } catch (e) {
      await Promise.allSettled(vcpus.map((v) => v.close()));
      // A read still writing guest RAM must end before the RAM is unmapped.
      await bootFilesRead?.catch(() => undefined);
      prepared.close();
      throw e;
    }
  }

  /** The main thread's instance of device `name` (also resolvable as deviceToken(name)). */
  device<D extends Device = Device>(name: string): D {
    const token = deviceToken(name);
    if (!this.container.isRegistered(token)) throw new ConfigError('device', `no device named '${name}' (devices: ${this.devices.map((d) => d.name).join(', ') || 'none'})`);
    return this.container.resolve<D>(token);
  }

  /** Shared state buffers of the devices, by instance name (host-side access, e.g. UART input). */
  get deviceState(): ReadonlyMap<string, SharedArrayBuffer> {
    return new Map(this.devices.map((d) => [d.name, d.shared]));
  }

  /**
   * Start every vCPU and resolve when the machine powers off, a vCPU reports a system event
   * (PSCI off/reset), a vCPU fails or every vCPU has stopped on its own. A power-off, a system
   * event or an error from one vCPU stops the others.
   */
  async run(options: { maxExits?: number } = {}): Promise<MachineExit> {
    const maxExits = checkMaxExits(options?.maxExits);
    const refusal = runRefusal({ closed: this.closed, running: this.exitResolve !== undefined, lastExit: this.lastExit });
    if (refusal) throw refusal;
    if (this.busy) throw new LifecycleError('machine', this.busy, 'run (await the checkpoint or restore first)');
    this.requireOwnThreads('run');
    const hooks = this.switchHooks();
    if (hooks.length > 0) {
      // VM-wide state a switch moved out of the kernel (an in-kernel GIC's) goes back before KVM runs.
      await runSwitchHooks(hooks, 'resuming');
      const late = runRefusal({ closed: this.closed, running: this.exitResolve !== undefined, lastExit: this.lastExit });
      if (late) throw late;
    }
    this.vm.lifecycle.moveTo('running');
    const exited = new Promise<MachineExit>((resolve) => (this.exitResolve = resolve));
    const generation = ++this.runGeneration;
    for (const v of this.vcpus) v.releaseHold();
    const all = Promise.all(this.vcpus.map((v) => this.runVcpu(v, maxExits, generation)));
    let result = await Promise.race([exited, all.then(() => this.summarize())]);
    this.exitResolve = undefined;
    this.lastExit = result;
    // Make sure every vCPU is quiet before reporting.
    await this.stop();
    // Every thread's console messages have arrived (each came before its thread's 'stopped'):
    // what is still held waits for a number whose message never came, and goes now.
    try {
      this.consoleOrder.flush();
    } catch (e) {
      if (result.reason !== 'error') result = { reason: 'error', error: new UserCallbackError('the console sink', e) };
    }
    this.lastExit = result;
    return result;
  }

  /** Stop every vCPU (kick + acknowledge, or terminate after the timeout). Never hangs. */
  async stop(): Promise<void> {
    // End the current run first: a vCPU paused in an m5op handler is not running, so stopping
    // the vCPUs alone would let runVcpu resume it when the handler returns.
    const resolve = this.exitResolve;
    this.exitResolve = undefined;
    resolve?.({ reason: 'stopped' });
    const timeout = this.config.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    await Promise.all(this.vcpus.map((v) => v.stop(timeout)));
    if (this.vm.phase === 'running') this.vm.lifecycle.moveTo('drained');
  }

  /**
   * Save the whole machine to the checkpoint directory `dir` (replacing one there atomically);
   * valid while it is not running — after run() returns or after stop(). Restore it with
   * restoreMachine(dir). See docs/checkpoints.md.
   */
  checkpoint(dir: string, options: CheckpointOptions = {}): Promise<CheckpointManifest> {
    if (this.closed) return Promise.reject(new LifecycleError('machine', 'closed', 'checkpoint'));
    try {
      this.requireOwnThreads('checkpoint');
    } catch (e) {
      return Promise.reject(e);
    }
    // A checkpoint may be taken mid-run (from an m5op handler, its vCPU paused), never during another checkpoint or a restore.
    if (this.busy) return Promise.reject(new LifecycleError('machine', this.busy, 'checkpoint (await the first)'));
    const { config, container, kvm, vm, arch, memory, vcpus, devices } = this;
    this.tracking ??= { tracker: new DirtyPageTracker(vm), lastCheckpointId: undefined };
    this.busy = 'checkpointing';
    const saving = saveMachineCheckpoint({ config: config as MachineConfig, container, kvm, vm, arch, memory, vcpus, devices, m5ops: this.m5ops }, dir, options, this.tracking);
    // Registered first, so the machine is no longer busy when the caller's await resumes.
    const done = (): void => {
      this.busy = undefined;
      this.saving = undefined;
    };
    saving.then(done, done);
    this.saving = saving.then(
      () => undefined,
      () => undefined,
    );
    return saving;
  }

  /**
   * The checkpoint being written, settled either way: close() waits for it, since the memory
   * image is written from guest RAM on the thread pool and unmapping RAM under it would write a
   * damaged image in place of the previous checkpoint.
   */
  private saving: Promise<void> | undefined;

  /** A checkpoint or restore in progress: run(), checkpoint() and restore() wait for none, they refuse. */
  private busy: 'checkpointing' | 'restoring' | undefined;

  /**
   * Put the checkpoint at `dir` into this stopped machine (the warm restore: no VM, memory or
   * threads to create); the machine then continues from the saved instant. The checkpoint must
   * be of a machine of this shape — create one with createMachine(checkpointConfig(dir)).
   * See checkpoint/restore-into.ts and docs/checkpoints.md.
   */
  async restore(dir: string, options: RestoreIntoOptions = {}): Promise<void> {
    if (this.closed) throw new LifecycleError('machine', 'closed', 'restore');
    if (this.busy) throw new LifecycleError('machine', this.busy, 'restore (await it first)');
    // A run in flight (its vCPUs perhaps paused in an m5op handler) would resume them on the restored state.
    if (this.exitResolve !== undefined) throw new LifecycleError('machine', 'running', 'restore (after run() returns or after stop())');
    this.requireOwnThreads('restore');
    const { config, container, kvm, vm, arch, memory, vcpus, devices } = this;
    this.busy = 'restoring';
    try {
      await restoreIntoMachine({ config: config as MachineConfig, container, kvm, vm, arch, memory, vcpus, devices, m5ops: this.m5ops }, dir, options, () => this.close(), () => {
        // Every check passed: the machine's write log describes memory the restore replaces, so a chain starts afresh.
        this.tracking?.tracker.stop();
        this.tracking = undefined;
      });
    } finally {
      this.busy = undefined;
    }
    // The machine continues from the saved instant: how its last run ended no longer applies.
    this.lastExit = undefined;
  }

  private readonly switches: VcpuSwitch[] = [];
  private switchMemory: SwitchMemory | undefined;

  /**
   * vCPU `index` as a switchable CPU model: drain(), switchOut(), takeOverFrom(other) — gem5's
   * CPU switching (cpu/switching.ts, docs/cpu-switching.md). The same object on every call.
   */
  cpu(index: number): VcpuSwitch {
    const vcpu = this.vcpus[index];
    if (vcpu === undefined) throw new ConfigError('cpu', `no vCPU ${index} (the machine has ${this.vcpus.length})`);
    this.switchMemory ??= machineSwitchMemory(this.memory, () => this.closed);
    this.switches[index] ??= new VcpuSwitch(vcpu, { arch: this.arch, memory: this.switchMemory, closed: () => this.closed, stopTimeoutMs: this.config.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, vmState: this.vmState });
    return this.switches[index];
  }

  private hooks: MachineSwitchHook[] | undefined;
  /** The plugins' switch hooks for this machine (cpu/switch-hooks.ts), asked for once. */
  private switchHooks(): MachineSwitchHook[] {
    return (this.hooks ??= machineSwitchHooks(this.container, this.vm, { irqLines: this.irqLines }));
  }

  /** VM-wide state (an in-kernel GIC's) handed out of the kernel while vCPUs are switched out. */
  private readonly vmState = new SwitchHandOff(
    () => this.switchHooks(),
    () => this.stop(),
    () => this.switches,
  );

  /** A switched-out vCPU's state is with another CPU model: the machine neither runs nor saves it. */
  private requireOwnThreads(operation: string): void {
    const out = this.switches.find((s) => s?.switchState === 'switched-out');
    if (out) throw new LifecycleError(out.name, 'switched-out', `${operation} (its thread is with another CPU model: take it back with takeOverFrom first)`);
  }

  /** Dirty-page logging for incremental checkpoints (checkpoint/dirty-tracker.ts); off until a checkpoint asks. */
  private tracking: TrackingState | undefined;

  /** Exit counts per vCPU, by exit kind. */
  exitCounts(): ExitCounts[] {
    return this.vcpus.map((v) => v.exitCounts());
  }

  /**
   * Each vCPU thread's own V8 heap (thread-heap.ts), in vCPU order; with `gc`, each thread
   * collects first. Only while the machine is stopped (a running vCPU answers no calls).
   */
  vcpuHeapStatistics(options: { readonly gc?: boolean } = {}): Promise<ThreadHeapStatistics[]> {
    if (this.closed) return Promise.reject(new LifecycleError('machine', 'closed', 'vcpuHeapStatistics'));
    return Promise.all(this.vcpus.map((v) => v.call<ThreadHeapStatistics>('heapStatistics', { gc: options.gc === true })));
  }

  /** Release threads, fds and memory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.saving;
    // A run still waiting (e.g. on an m5op handler) settles as stopped rather than never.
    const resolve = this.exitResolve;
    this.exitResolve = undefined;
    resolve?.({ reason: 'stopped' });
    this.m5ops.dispose();
    await Promise.allSettled(this.vcpus.map((v) => v.close()));
    try {
      this.consoleOrder.flush();
    } catch {
      // The sink failed on output that came after the last run: close() still releases everything.
    }
    this.tracking?.tracker.stop();
    this.closeVm();
  }

  /**
   * Run one vCPU until its run ends. An m5op stop pauses only this vCPU: the main thread runs the
   * op's built-in action and the owner's handler, then resumes it (`maxExits` counts per resume),
   * unless the op ends the run or the run ended meanwhile (the stop stays the vCPU's lastStop).
   */
  private async runVcpu(v: VcpuController, maxExits: number | undefined, generation: number): Promise<void> {
    const current = () => this.exitResolve !== undefined && this.runGeneration === generation;
    for (;;) {
      const s = await v.start(maxExits);
      if (s.reason !== 'm5op' || !current()) return this.onVcpuStop(s);
      const outcome = await this.m5ops.dispatch(v, s);
      if (!current()) return;
      if (outcome !== 'continue') return this.finish(outcome);
      // Drained (or switched out) while its m5op was handled: it stays where it stopped (vcpu-switch.ts).
      if (v.held) return v.endHeldRun(Stop.stopped);
    }
  }

  /** End the current run with `exit` (the first one wins) and stop every vCPU. */
  private finish(exit: MachineExit): void {
    const resolve = this.exitResolve;
    if (!resolve) return;
    this.exitResolve = undefined;
    resolve(exit);
    void this.stop();
  }

  /**
   * Stops that end the machine's run for every vCPU: an error, a power-off, and a system event —
   * KVM reports PSCI SYSTEM_OFF/RESET (KVM_EXIT_SYSTEM_EVENT) on the calling vCPU only and leaves
   * stopping the others to userspace (api.rst), which would otherwise sleep in KVM_RUN for good.
   */
  private onVcpuStop(s: VcpuStop): void {
    if (s.reason === 'error' || s.reason === 'poweroff' || s.reason === 'system-event') this.finish(s);
  }

  /** Every vCPU stopped on its own: an error first, then a power-off, a system event, then the first vCPU's reason. */
  private summarize(): MachineExit {
    const stops = this.vcpus.map((v) => v.lastStop).filter((s): s is VcpuStop => s !== undefined);
    return stops.find((s) => s.reason === 'error') ?? stops.find((s) => s.reason === 'poweroff') ?? stops.find((s) => s.reason === 'system-event') ?? stops[0] ?? { reason: 'stopped' };
  }
}

/** Compose a machine from one config object (see MachineConfig). */
export function createMachine<Boot>(config: MachineConfig<Boot>, options?: CreateMachineOptions): Promise<Machine<Boot>> {
  return Machine.create(config, options);
}
