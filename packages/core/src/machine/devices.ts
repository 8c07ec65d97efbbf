/**
 * Device composition, written once for every thread that hosts device instances (each vCPU
 * worker, the machine's main thread, and tests that drive a CPU by hand): validate the specs,
 * give each instance its name and shared state, create instances through the device plugins
 * registered in a container, put them on the buses, and register each under deviceToken(name).
 */
import type { DependencyContainer } from 'tsyringe';
import { MMIO_SPACE, type AddressBuses, type AddressSpace } from '../bus/address-bus';
import type { Device } from '../bus/device';
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { deviceToken } from '../di/tokens';
import { findDevicePlugin } from './plugin-registry';
import { resolveAndPin } from './prepare-vm';
import { Stop } from '../cpu/cpu-stop';
import type { KvmCPU } from '../cpu/kvm-cpu';
import type { GuestMemory } from '../vm/guest-memory';
import type { IrqLines } from '../vm/irq-line';
import type { DeviceContext, DevicePlugin, DeviceSpec } from './device-plugin';

/** One device of a machine as every thread needs it: its spec, unique name and shared state. */
export interface MachineDevice {
  readonly spec: DeviceSpec;
  readonly name: string;
  readonly shared: SharedArrayBuffer;
}

/** Bytes of shared state an instance needs: its layout's size, 0 for a device without one. */
function sharedBytes(plugin: DevicePlugin, options: unknown): number {
  return plugin.sharedLayout?.(options).byteLength ?? 0;
}

/**
 * Validate `specs` against the device plugins registered in `container` (options, and that each
 * placement names an address space of the arch: `spaces`, besides MMIO) and give each device its
 * name and shared state. Main thread, before anything touches the kernel.
 */
export function prepareDevices(container: DependencyContainer, specs: readonly DeviceSpec[], spaces: readonly AddressSpace[]): MachineDevice[] {
  if (!Array.isArray(specs)) throw new ConfigError('devices', `must be an array of DeviceSpec, got ${describeValue(specs)}`);
  const known = new Set([MMIO_SPACE.name, ...spaces.map((s) => s.name)]);
  const names = new Set<string>();
  return specs.map((spec, i) => {
    if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string' || typeof spec.plugin !== 'string') {
      throw new ConfigError(`devices[${i}]`, 'must be a DeviceSpec { plugin, type, options } (use a helper such as uart8250())');
    }
    if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name === '')) throw new ConfigError(`devices[${i}].name`, `must be a non-empty string, got ${describeValue(spec.name)}`);
    const plugin = findDevicePlugin(container, spec.type);
    plugin.validate(spec.options);
    const placement = plugin.placement(spec.options);
    for (const [space, ranges] of Object.entries(placement)) {
      if (ranges && ranges.length > 0 && !known.has(space)) throw new ConfigError(`devices[${i}]`, `a ${spec.type} sits in address space '${space}', which this architecture does not have (it has: ${[...known].join(', ')})`);
    }
    const at = Object.values(placement).find((ranges) => ranges && ranges.length > 0)?.[0];
    const name = spec.name ?? `${spec.type}@0x${(at?.base ?? i).toString(16)}`;
    if (names.has(name)) throw new ConfigError(`devices[${i}].name`, `duplicate device name '${name}'`);
    names.add(name);
    return { spec, name, shared: new SharedArrayBuffer(sharedBytes(plugin, spec.options)) };
  });
}

/**
 * This thread's instance of every device: resolved from `container` under deviceToken(name) —
 * a registration there wins — else created through the plugin registered for its type (the last
 * registration wins: a test double registered after the real plugin is the one used); attached
 * to `buses` by address space when given (the main thread's instances sit on no bus) and pinned
 * under deviceToken(name).
 */
export function attachDevices(
  container: DependencyContainer,
  devices: readonly MachineDevice[],
  contextFor: (device: MachineDevice) => DeviceContext,
  buses?: AddressBuses,
): Device[] {
  return devices.map((d) => {
    const plugin = findDevicePlugin(container, d.spec.type);
    const device = resolveAndPin<Device>(container, deviceToken(d.name), { useFactory: () => plugin.create(contextFor(d), d.spec.options) });
    if (buses) {
      for (const [space, ranges] of Object.entries(plugin.placement(d.spec.options))) {
        if (!ranges || ranges.length === 0) continue;
        const bus = buses.require(space, `devices[${d.name}]`);
        ranges.forEach((r, index) => bus.attach(r, device.forRange?.(space, index) ?? device));
      }
    }
    return device;
  });
}

/** Where a vCPU thread's devices send what leaves the device: console bytes and interrupt levels. */
export interface VcpuDeviceHost {
  consoleWrite(byte: number): void;
  /** DeviceContext.consoleFlush (absent: console bytes are not buffered). */
  consoleFlush?(): void;
  setIrqLine(line: number, level: boolean): void;
  /** DeviceContext.claimIrqLines for device `by` (absent: devices cannot claim this thread's lines). */
  claimIrqLines?(controller: IrqLines, by: string): IrqLines;
  /** Guest RAM as this thread sees it (DeviceContext.memory). */
  readonly memory?: GuestMemory;
}

/**
 * The devices of one vCPU thread: every device's instance for `cpu`, on `cpu.buses`, with a
 * power-off request stopping `cpu` (its run returns `{ reason: 'poweroff', status }`, the one
 * path a power-off takes; a reset request likewise, as `Stop.systemReset`). The vCPU worker and
 * tests that drive a CPU by hand both use this.
 */
export function attachVcpuDevices(container: DependencyContainer, cpu: KvmCPU, devices: readonly MachineDevice[], host: VcpuDeviceHost): Device[] {
  return attachDevices(
    container,
    devices,
    (d) => ({
      name: d.name,
      vcpuId: cpu.id,
      shared: d.shared,
      consoleWrite: (byte) => host.consoleWrite(byte),
      consoleFlush: () => host.consoleFlush?.(),
      requestPowerOff: (status) => cpu.requestStop(Stop.poweroff(status)),
      requestReset: () => cpu.requestStop(Stop.systemReset),
      setIrqLine: (line, level) => host.setIrqLine(line, level),
      ...(host.claimIrqLines ? { claimIrqLines: (controller: IrqLines) => host.claimIrqLines!(controller, d.name) } : {}),
      cpu,
      memory: host.memory,
    }),
    cpu.buses,
  );
}
