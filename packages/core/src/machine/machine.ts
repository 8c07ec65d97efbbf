import * as path from 'node:path';
import * as fs from 'node:fs';
import type { DependencyContainer } from 'tsyringe';
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import type { Device } from '../bus/device';
import { ConfigError, type KvmtsError } from '../errors/errors';
import { deviceToken } from '../di/tokens';
import { createMachineContainer } from '../di/container';
import { STAT_SLOTS } from '../cpu/exit-stats';
import { CONTROL_INTS } from '../cpu/vcpu-control';
import type { ExitCounts } from '../cpu/exit-stats';
import type { CpuStop } from '../cpu/cpu-stop';
import type { ArchPlugin } from './arch-plugin';
import type { MachineConfig } from './machine-config';
import { prepareVm, vcpuBuildInfos, vcpuCount } from './prepare-vm';
import { archPluginFor, findArchPlugin, loadPlugins, registeredArchs } from './plugin-registry';
import { findInstalledArchPlugins, installedArchModule } from './arch-discovery';
import { attachDevices, prepareDevices, type MachineDevice } from './devices';
import { VcpuController, type VcpuStop } from './vcpu-controller';
import type { VcpuWorkerData } from './worker-protocol';

/** How a machine run ended: a vCPU's stop (power-off, halt, …) or the first error. */
export type MachineExit = CpuStop | { readonly reason: 'error'; readonly error: KvmtsError };

export interface CreateMachineOptions {
  /**
   * Parent of the machine's container. Registrations there are what the machine resolves
   * (KVM, KVM_VM, VM_OPTIONS; see docs/architecture.md). Default: none — the machine's
   * container is isolated, never tsyringe's global root.
   */
  readonly container?: DependencyContainer;
  /** Receives guest console bytes (default: written to process.stdout). */
  readonly console?: (bytes: Uint8Array) => void;
}

const DEFAULT_STOP_TIMEOUT_MS = 5000;

/** The compiled worker script: next to this file in dist/, or in dist/ when running from src/ (tests). */
function workerScriptPath(): string {
  const here = __filename.endsWith('.ts') ? path.join(__dirname, '..', '..', 'dist', 'machine') : __dirname;
  const script = path.join(here, 'vcpu-worker.js');
  if (!fs.existsSync(script)) throw new ConfigError('core', `vCPU worker script ${script} is missing: run \`npm run build\` first`);
  return script;
}

/**
 * Load the plugin modules a config needs into `container`, arch first so that the user's
 * modules (loaded after it) win where they register the same thing. The arch plugin comes from
 * the user's modules when one of them registers `config.arch`, else from the installed package
 * that declares it (`"kvmts": {"arch": …}` in its package.json). Returns the arch plugin and
 * the module list every vCPU thread loads in the same order.
 */
function loadMachinePlugins(container: DependencyContainer, config: MachineConfig): { arch: ArchPlugin; modules: string[] } {
  const userModules = [...new Set([...(config.plugins ?? []), ...(config.devices ?? []).map((d) => d?.plugin).filter((m): m is string => typeof m === 'string')])];
  const installed = installedArchModule(config.arch);
  const probe = container.createChildContainer();
  loadPlugins(probe, userModules);
  const fromUser = archPluginFor(probe, config.arch);
  const archModules = !fromUser && installed ? [installed.module] : [];
  loadPlugins(container, [...archModules, ...userModules]);
  const arch = archPluginFor(container, config.arch);
  if (!arch) {
    const known = [...new Set([...registeredArchs(container), ...findInstalledArchPlugins().map((p) => `${p.arch} (${p.packageName})`)])];
    throw new ConfigError('arch', `no plugin for architecture '${config.arch}': install one (a package whose package.json says "kvmts": {"arch": "${config.arch}"}) or name its module in \`plugins\` (available: ${known.join(', ') || 'none'})`);
  }
  const modules = [...new Set([arch.module, ...userModules])];
  return { arch, modules };
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

  private constructor(
    readonly config: MachineConfig<Boot>,
    readonly container: DependencyContainer,
    readonly kvm: Kvm,
    readonly vm: KvmVM,
    readonly arch: ArchPlugin,
    readonly memory: GuestMemory,
    readonly vcpus: readonly VcpuController[],
    private readonly devices: readonly MachineDevice[],
  ) {}

  /** Build a machine from one config object. Nothing runs until run(). */
  static async create<Boot>(config: MachineConfig<Boot>, options: CreateMachineOptions = {}): Promise<Machine<Boot>> {
    vcpuCount(config); // checked before any plugin loads
    const container = createMachineContainer(options.container);
    const { arch, modules } = loadMachinePlugins(container, config);
    const devices = prepareDevices(container, config.devices ?? []); // validated before touching the kernel

    const prepared = prepareVm(config, findArchPlugin(container, config.arch) as ArchPlugin<Boot>, container);
    const { kvm, vm, memory } = prepared;
    const vcpus: VcpuController[] = [];
    try {
      let machine: Machine<Boot> | undefined;
      const consoleSink = options.console ?? ((b: Uint8Array) => process.stdout.write(b));
      // The main thread's instances serve host-side access (input, inspection); they sit on no bus.
      attachDevices(container, devices, (d) => ({
        name: d.name,
        vcpuId: -1,
        shared: d.shared,
        consoleWrite: (byte) => consoleSink(Uint8Array.of(byte)),
        requestPowerOff: (status) => machine?.finish({ reason: 'poweroff', status }),
        setIrqLine: (line, level) => vm.setIrqLine(line, level),
      }));
      const script = workerScriptPath();
      for (const info of vcpuBuildInfos(prepared)) {
        const data: VcpuWorkerData = {
          ...info,
          modules,
          arch: config.arch,
          devices,
          stats: new SharedArrayBuffer(STAT_SLOTS * 8),
          control: new SharedArrayBuffer(CONTROL_INTS * 4),
          unclaimed: config.unclaimed ?? 'ignore',
        };
        vcpus.push(new VcpuController(info.handles.id, script, data, { console: consoleSink }));
      }
      await Promise.all(vcpus.map((v) => v.whenReady()));
      machine = new Machine(config, container, kvm, vm, arch, memory, vcpus, devices);
      return machine;
    } catch (e) {
      await Promise.allSettled(vcpus.map((v) => v.close()));
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
   * Start every vCPU and resolve when the machine powers off, a vCPU fails or every vCPU has
   * stopped on its own. A power-off or an error from one vCPU stops the others.
   */
  async run(options: { maxExits?: number } = {}): Promise<MachineExit> {
    this.vm.lifecycle.moveTo('running');
    const exited = new Promise<MachineExit>((resolve) => (this.exitResolve = resolve));
    const all = Promise.all(this.vcpus.map((v) => v.start(options.maxExits).then((s) => this.onVcpuStop(s))));
    const result = await Promise.race([exited, all.then(() => this.summarize())]);
    this.exitResolve = undefined;
    // Make sure every vCPU is quiet before reporting.
    await this.stop();
    return result;
  }

  /** Stop every vCPU (kick + acknowledge, or terminate after the timeout). Never hangs. */
  async stop(): Promise<void> {
    const timeout = this.config.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    await Promise.all(this.vcpus.map((v) => v.stop(timeout)));
    if (this.vm.phase === 'running') this.vm.lifecycle.moveTo('drained');
  }

  /** Exit counts per vCPU, by exit kind. */
  exitCounts(): ExitCounts[] {
    return this.vcpus.map((v) => v.exitCounts());
  }

  /** Release threads, fds and memory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.vcpus.map((v) => v.close()));
    this.vm.close();
    this.kvm.close();
  }

  /** End the current run with `exit` (the first one wins) and stop every vCPU. */
  private finish(exit: MachineExit): void {
    const resolve = this.exitResolve;
    if (!resolve) return;
    this.exitResolve = undefined;
    resolve(exit);
    void this.stop();
  }

  private onVcpuStop(s: VcpuStop): void {
    if (s.reason === 'error' || s.reason === 'poweroff') this.finish(s);
  }

  /** Every vCPU stopped on its own: an error first, then a power-off, then the first vCPU's reason. */
  private summarize(): MachineExit {
    const stops = this.vcpus.map((v) => v.lastStop).filter((s): s is VcpuStop => s !== undefined);
    return stops.find((s) => s.reason === 'error') ?? stops.find((s) => s.reason === 'poweroff') ?? stops[0] ?? { reason: 'stopped' };
  }
}

/** Compose a machine from one config object (see MachineConfig). */
export function createMachine<Boot>(config: MachineConfig<Boot>, options?: CreateMachineOptions): Promise<Machine<Boot>> {
  return Machine.create(config, options);
}
