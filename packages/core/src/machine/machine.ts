import * as path from 'node:path';
import * as fs from 'node:fs';
import type { DependencyContainer } from 'tsyringe';
import { container as rootContainer } from 'tsyringe';
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import { ConfigError, type KvmtsError } from '../errors/errors';
import { KVM, KVM_VM, MACHINE_CONFIG } from '../di/tokens';
import { STAT_SLOTS } from '../cpu/exit-stats';
import { CONTROL_INTS } from '../cpu/vcpu-control';
import type { ExitCounts } from '../cpu/exit-stats';
import type { ArchPlugin } from './arch-plugin';
import type { MachineConfig } from './machine-config';
import { prepareVm, vcpuBuildInfos, vcpuCount } from './prepare-vm';
import { BUILTIN_ARCH_MODULES, findArchPlugin, findDevicePlugin, loadPlugins } from './plugin-registry';
import { VcpuController, type VcpuStop } from './vcpu-controller';
import type { VcpuWorkerData } from './worker-protocol';

/** How a machine run ended. */
export type MachineExit =
  | { readonly reason: 'poweroff'; readonly status: number }
  | { readonly reason: 'halted' | 'stopped' | 'exit-limit' | 'system-event' }
  | { readonly reason: 'error'; readonly error: KvmtsError };

export interface CreateMachineOptions {
  /** Parent container (default: tsyringe's root). The machine gets its own child container. */
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
 * A composed machine: a VM, its memory, devices and one worker thread per vCPU.
 * Create it with createMachine(); run() boots it and resolves when it powers off or stops.
 */
export class Machine {
  private exitResolve: ((e: MachineExit) => void) | undefined;
  private closed = false;

  private constructor(
    readonly config: MachineConfig,
    readonly container: DependencyContainer,
    readonly kvm: Kvm,
    readonly vm: KvmVM,
    readonly arch: ArchPlugin,
    readonly memory: GuestMemory,
    readonly vcpus: readonly VcpuController[],
    /** Shared state buffers of the devices, by instance name (host-side access, e.g. UART input). */
    readonly deviceState: ReadonlyMap<string, SharedArrayBuffer>,
  ) {}

  /** Build a machine from one config object. Nothing runs until run()/start(). */
  static async create(config: MachineConfig, options: CreateMachineOptions = {}): Promise<Machine> {
    const container = (options.container ?? rootContainer).createChildContainer();
    vcpuCount(config); // checked before any plugin loads
    // Modules to load: the built-in one for the arch, the user's plugins, and every module a
    // device spec names (so a third-party device needs no separate `plugins` entry).
    const archModule = BUILTIN_ARCH_MODULES[config.arch];
    const modules = [...(archModule ? [archModule] : []), ...(config.plugins ?? []), ...(config.devices ?? []).map((d) => d.plugin)];
    const uniqueModules = [...new Set(modules)];
    loadPlugins(container, uniqueModules);
    const arch = findArchPlugin(container, config.arch);

    // Validate devices before touching the kernel.
    const names = new Set<string>();
    const devices = (config.devices ?? []).map((spec, i) => {
      const plugin = findDevicePlugin(container, spec.type);
      plugin.validate(spec.options);
      const placement = plugin.placement(spec.options);
      const at = placement.pio?.[0] ?? placement.mmio?.[0];
      const name = spec.name ?? `${spec.type}@0x${(at?.base ?? i).toString(16)}`;
      if (names.has(name)) throw new ConfigError(`devices[${i}].name`, `duplicate device name '${name}'`);
      names.add(name);
      return { spec, name, shared: new SharedArrayBuffer(Math.max(8, plugin.sharedStateBytes(spec.options))) };
    });

    const prepared = prepareVm(config, arch);
    const { kvm, vm, memory } = prepared;
    container.registerInstance(KVM, kvm);
    container.registerInstance(KVM_VM, vm);
    container.registerInstance(MACHINE_CONFIG, config);
    const vcpus: VcpuController[] = [];
    try {
      const script = workerScriptPath();
      let machine: Machine | undefined;
      const consoleSink = options.console ?? ((b: Uint8Array) => process.stdout.write(b));
      const events = {
        console: (b: Uint8Array) => consoleSink(b),
        poweroff: (_vcpu: number, status: number) => machine?.onPowerOff(status),
      };
      for (const info of vcpuBuildInfos(prepared)) {
        const data: VcpuWorkerData = {
          ...info,
          modules: [arch.module, ...uniqueModules.filter((m) => m !== arch.module)],
          arch: config.arch,
          devices,
          stats: new SharedArrayBuffer(STAT_SLOTS * 8),
          control: new SharedArrayBuffer(CONTROL_INTS * 4),
          unclaimed: config.unclaimed ?? 'ignore',
        };
        vcpus.push(new VcpuController(info.handles.id, script, data, events));
      }
      await Promise.all(vcpus.map((v) => v.whenReady()));
      machine = new Machine(config, container, kvm, vm, arch, memory, vcpus, new Map(devices.map((d) => [d.name, d.shared])));
      return machine;
    } catch (e) {
      await Promise.allSettled(vcpus.map((v) => v.close()));
      prepared.close();
      throw e;
    }
  }

  /** Start every vCPU and resolve when the machine powers off, every vCPU stops, or one fails. */
  async run(options: { maxExits?: number } = {}): Promise<MachineExit> {
    this.vm.lifecycle.moveTo('running');
    const exited = new Promise<MachineExit>((resolve) => (this.exitResolve = resolve));
    const all = Promise.all(this.vcpus.map((v) => v.start(options.maxExits).then((s) => this.onVcpuStop(s))));
    const result = await Promise.race([exited, all.then(() => this.summarize())]);
    // Make sure every vCPU is quiet before reporting (a power-off from one stops the others).
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

  private onPowerOff(status: number): void {
    this.exitResolve?.({ reason: 'poweroff', status });
    void this.stop();
  }

  private onVcpuStop(s: VcpuStop): void {
    if (s.reason === 'error') {
      this.exitResolve?.({ reason: 'error', error: s.error });
      void this.stop();
    }
  }

  private summarize(): MachineExit {
    const stops = this.vcpus.map((v) => v.lastStop);
    const err = stops.find((s) => s?.reason === 'error');
    if (err && err.reason === 'error') return { reason: 'error', error: err.error };
    const off = stops.find((s) => s?.reason === 'poweroff');
    if (off && off.reason === 'poweroff') return { reason: 'poweroff', status: off.status ?? 0 };
    const first = stops[0];
    return { reason: (first?.reason ?? 'stopped') as 'halted' | 'stopped' | 'exit-limit' | 'system-event' };
  }
}

/** Compose a machine from one config object (see MachineConfig). */
export function createMachine(config: MachineConfig, options?: CreateMachineOptions): Promise<Machine> {
  return Machine.create(config, options);
}
