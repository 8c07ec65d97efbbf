/** @kvmts/core — the architecture-neutral framework. This file only re-exports. */
// tsyringe needs the Reflect metadata polyfill before it loads; a peer dependency, loaded here once
// so that users of core never meet "tsyringe requires a reflect polyfill".
import 'reflect-metadata';
export * from './errors/errors';
export * from './abi';
export * from './abi-check/probe';
export * from './bus/device';
export * from './bus/address-range';
export * from './bus/address-bus';
export * from './bus/memory-device';
export * from './kvm/kvm';
export { kvmIoctl, toKvmError, errnoCode } from './kvm/ioctl';
export * from './kvm/scratch';
export * from './vm/lifecycle';
export * from './vm/memory-region';
export * from './vm/guest-memory';
export * from './vm/kvm-device';
export * from './vm/vcpu-fd';
export * from './vm/irq-line';
export * from './vm/mmio-served-regions';
export * from './vm/kvm-vm';
export * from './cpu/thread-context';
export * from './cpu/exit-stats';
export * from './cpu/vcpu-control';
export * from './cpu/base-kvm-cpu';
export * from './di/tokens';
export * from './machine/device-plugin';
export * from './machine/arch-plugin';
export * from './machine/machine-config';
export * from './machine/plugin-registry';
export * from './machine/vcpu-controller';
export * from './machine/prepare-vm';
export * from './machine/machine';
export type { VcpuWorkerData, WorkerMethod } from './machine/worker-protocol';
