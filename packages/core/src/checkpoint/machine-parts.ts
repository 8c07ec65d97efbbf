import type { DependencyContainer } from 'tsyringe';
import type { Kvm } from '../kvm/kvm';
import type { KvmVM } from '../vm/kvm-vm';
import type { GuestMemory } from '../vm/guest-memory';
import type { ArchPlugin } from '../machine/arch-plugin';
import type { MachineConfig } from '../machine/machine-config';
import type { MachineDevice } from '../machine/devices';
import type { VcpuController } from '../machine/vcpu-controller';
import type { M5ops } from '../m5ops/m5op-handlers';
import type { Device } from '../bus/device';
import { deviceToken, CHECKPOINT_COMPONENT } from '../di/tokens';
import { resolveAllOrNone } from '../di/container';
import { findDevicePlugin } from '../machine/plugin-registry';
import type { SharedLayout } from '../devices/shared-layout';
import type { CheckpointComponent, CheckpointContext } from './component';
import type { NamedDevice } from './device-states';
import { irqfdComponent } from './irqfd-state';

/** The parts of a machine a checkpoint saves from or restores into (Machine hands them over). */
export interface MachineParts {
  readonly config: MachineConfig;
  readonly container: DependencyContainer;
  readonly kvm: Kvm;
  readonly vm: KvmVM;
  readonly arch: ArchPlugin;
  readonly memory: GuestMemory;
  readonly devices: readonly MachineDevice[];
}

/** MachineParts once the vCPU threads (and the machine's m5ops) exist. */
export interface MachinePartsWithVcpus extends MachineParts {
  readonly vcpus: readonly VcpuController[];
  /** The machine's m5ops, whose statistics a checkpoint carries (machine-state.ts). */
  readonly m5ops: M5ops;
}

export function checkpointContext(parts: MachineParts): CheckpointContext {
  return { kvm: parts.kvm, vm: parts.vm, memory: parts.memory, config: parts.config };
}

/** The main thread's device instances, by name. */
export function mainThreadDevices(parts: MachineParts): NamedDevice[] {
  return parts.devices.map((d) => ({ name: d.name, device: parts.container.resolve<Device>(deviceToken(d.name)) }));
}

/** A device's shared layout (undefined when it shares nothing). */
export function sharedLayoutOf(parts: MachineParts, device: MachineDevice): SharedLayout | undefined {
  return findDevicePlugin(parts.container, device.spec.type).sharedLayout?.(device.spec.options);
}

/** The arch plugin's in-kernel components, the VM's irqfd bindings, then those registered under CHECKPOINT_COMPONENT. */
export function checkpointComponents(parts: MachineParts): CheckpointComponent[] {
  return [...(parts.arch.checkpoint?.vmComponents(parts.config) ?? []), irqfdComponent, ...resolveAllOrNone<CheckpointComponent>(parts.container, CHECKPOINT_COMPONENT)];
}

export const vcpuSection = (id: number): string => `vcpu.${id}`;
export const deviceSection = (name: string): string => `device.${name}`;
/** Version of the device section's shape ({ shared, local }). */
export const DEVICE_SECTION_VERSION = 1;

/** A device section: its shared state (layout name, version, bytes) and each thread's local state. */
export interface DeviceSectionData {
  readonly shared: { readonly layout: string; readonly version: number; readonly bytes: Uint8Array } | null;
  /** Local state by thread: 'main', 'vcpu0', 'vcpu1', … (only threads whose instance keeps some). */
  readonly local: Readonly<Record<string, unknown>>;
}
