/**
 * dev-gic's in-kernel GIC as arch-arm64's interrupt controller (ARM64_INTERRUPT_CONTROLLER):
 * a machine with archOptions gic: 'kernel' whose container has it gets dev-gic's vGIC — with
 * its ITS, its FDT node and a state that checkpoints — instead of the arch plugin's minimal one.
 */
import type { DependencyContainer } from 'tsyringe';
import { MACHINE_SWITCH_HOOK } from '@kvmts/core';
import { ARM64_INTERRUPT_CONTROLLER, type Arm64InterruptController } from '@kvmts/arch-arm64';
import { createKernelGic, kernelGicOptions, type KernelGicOptions } from './kernel-gic';
import { gicMuxSwitchHook } from './gic-mux';
import { vgicV2CheckpointRefusal, vgicV3CheckpointComponent } from './vgic-checkpoint';

export function kernelGicController(options: KernelGicOptions = {}): Arm64InterruptController {
  const o = kernelGicOptions(options);
  return {
    name: `@kvmts/dev-gic vGICv${o.version}${o.its ? ' with ITS' : ''}`,
    create: (vm, request) => createKernelGic(vm, request.mpidrs, request.irqs, o),
    checkpointComponent: () => (o.version === 3 ? vgicV3CheckpointComponent : vgicV2CheckpointRefusal),
  };
}

/** Register dev-gic's controller with `options` in `container` (what the plugin modules do). */
export function registerKernelGic(container: DependencyContainer, options: KernelGicOptions = {}): void {
  container.register(ARM64_INTERRUPT_CONTROLLER, { useValue: kernelGicController(options) });
  // CPU switching hands a vGICv3 to the userspace model and back (./gic-mux.ts); the hook is a no-op for other machines.
  container.register(MACHINE_SWITCH_HOOK, { useValue: gicMuxSwitchHook });
}
