/** @kvmts/arch-x86 — the x86-64 ISA plugin. This file only re-exports. */
export * from './abi';
export * from './boot';
export * from './devices';
export * from './guest';
export * from './cpu';
export * from './layout';
export * from './state/thread-context';
export * from './state/cpuid';
export * from './state/irqchip';
export * from './loader/flat-image';
export { x86ArchPlugin, register } from './plugin';
export * from './address-spaces';
export * from './machine-options';
export { ARCH_X86_MODULE } from './module-name';
