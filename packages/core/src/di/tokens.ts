/**
 * DI tokens. Symbol.for() so that every copy of a plugin package resolves the same token; the
 * container itself must still be the single tsyringe instance the host program uses, which is
 * why plugins declare tsyringe and reflect-metadata as peer dependencies and receive the
 * container explicitly instead of importing a global one.
 */
export const ARCH_PLUGIN = Symbol.for('kvmts.ArchPlugin');
export const DEVICE_PLUGIN = Symbol.for('kvmts.DevicePlugin');
export const KVM = Symbol.for('kvmts.Kvm');
export const KVM_VM = Symbol.for('kvmts.KvmVM');
export const MACHINE_CONFIG = Symbol.for('kvmts.MachineConfig');
/** In a vCPU worker's container: the BaseKvmCPU that thread runs. */
export const KVM_CPU = Symbol.for('kvmts.KvmCPU');
