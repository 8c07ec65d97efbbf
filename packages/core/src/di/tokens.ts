/**
 * DI tokens. Symbol.for() so that every copy of a plugin package resolves the same token; the
 * container itself must still be the single tsyringe instance the host program uses, which is
 * why plugins declare tsyringe and reflect-metadata as peer dependencies and receive the
 * container explicitly instead of importing a global one.
 *
 * Where each token lives (see docs/architecture.md, "Composition"):
 *   machine container (main thread): KVM, VM_OPTIONS, KVM_VM, MACHINE_CONFIG, ARCH_PLUGIN,
 *                                    DEVICE_PLUGIN, deviceToken(name)
 *   vCPU worker: thread container:   ARCH_PLUGIN, DEVICE_PLUGIN (and whatever plugin modules add)
 *                vCPU container (its child): VCPU_SETUP, ADDRESS_BUSES, KVM_CPU, deviceToken(name)
 */

/** ArchPlugin registrations (multi): one per architecture a loaded module offers. */
export const ARCH_PLUGIN = Symbol.for('kvmts.ArchPlugin');
/** DevicePlugin registrations (multi): the last one registered for a type wins. */
export const DEVICE_PLUGIN = Symbol.for('kvmts.DevicePlugin');
/** The `Kvm` system handle (/dev/kvm). */
export const KVM = Symbol.for('kvmts.Kvm');
/** `KvmVmOptions` the machine computes from the arch plugin (VM type) before resolving KVM_VM. */
export const VM_OPTIONS = Symbol.for('kvmts.VmOptions');
/** The `KvmVM` of a machine. Default: `DefaultKvmVM`; register your own to override. */
export const KVM_VM = Symbol.for('kvmts.KvmVM');
/** The `MachineConfig` the machine was created from. */
export const MACHINE_CONFIG = Symbol.for('kvmts.MachineConfig');
/** In a vCPU container: the `VcpuSetup` (fd, kvm_run, options, buses) a CPU is built from. */
export const VCPU_SETUP = Symbol.for('kvmts.VcpuSetup');
/** In a vCPU container: the `AddressBuses` (mmio + the arch's spaces). Default built by core. */
export const ADDRESS_BUSES = Symbol.for('kvmts.AddressBuses');
/** In a vCPU container: the `KvmCPU`. Registered by the arch plugin; register your own to override. */
export const KVM_CPU = Symbol.for('kvmts.KvmCPU');

/**
 * Checkpoint components (multi, machine container): state a machine saves and restores besides
 * its memory, vCPUs, devices and the arch plugin's in-kernel state (checkpoint/component.ts).
 */
export const CHECKPOINT_COMPONENT = Symbol.for('kvmts.CheckpointComponent');

/** The live instance of device `name` in a container (main thread or one vCPU thread). */
export function deviceToken(name: string): symbol {
  return Symbol.for(`kvmts.Device:${name}`);
}
