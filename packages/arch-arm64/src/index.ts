/** @kvmts/arch-arm64 — the arm64 ISA plugin. This file only re-exports. */
export * from './abi';
export * from './boot';
export * from './devices';
export * from './cpu';
export * from './layout';
export * from './machine-options';
export * from './state/thread-context';
export * from './state/register-classes';
export * from './state/register-sync';
export * from './state/one-reg-io';
export * from './state/id-registers';
export * from './state/virtual-counter';
export * from './state/dump';
export * from './gic/vgic-v3';
export * from './checkpoint';
export { initVcpus } from './vcpu-init';
export { arm64ArchPlugin, register, ARM64_LINUX_CONSOLE } from './plugin';
export { ARCH_ARM64_MODULE } from './module-name';
