/**
 * VM-wide state that must leave the kernel while a machine's vCPUs have given their threads to
 * other CPU models, and come back before KVM runs them again — gem5's MuxingKvmGic moves the
 * in-kernel GIC into its simulated GIC on drain and back on drainResume. A plugin that owns
 * such state registers a factory under MACHINE_SWITCH_HOOK (multi, machine container); the
 * machine asks each factory once for its VM and calls what it returns:
 *
 *   switchingOut  a vCPU is about to be switched out and none is yet: the machine's run has
 *                 ended and every vCPU is out of KVM_RUN. Move the state out (into a model the
 *                 simulated CPUs use). Throwing refuses the switch-out: the vCPU keeps its thread.
 *   resuming      the machine's vCPUs are about to enter KVM again: the last switched-out vCPU
 *                 took its thread back, or run() starts. Move the state back; nothing to do
 *                 (and no cost) when it is in the kernel already.
 *
 * Core knows nothing of what moves; it only keeps the order. It gives each factory what of the
 * machine a hook may take while the state is out (MachineSwitchContext): the device interrupt
 * lines, which must reach the model rather than the kernel meanwhile.
 */
import type { DependencyContainer } from 'tsyringe';
import { resolveAllOrNone } from '../di/container';
import type { KvmVM } from '../vm/kvm-vm';
import type { MachineIrqLines } from '../machine/machine-irq-lines';

export interface MachineSwitchHook {
  /** For errors: 'in-kernel GIC'. */
  readonly name: string;
  /**
   * Why the state cannot be moved out (e.g. parts no model holds), or undefined. Asked before
   * anything stops: a refused switch-out leaves the machine running as it was.
   */
  refuseSwitchOut?(): Error | undefined;
  switchingOut(): void | Promise<void>;
  resuming(): void | Promise<void>;
}

/** The first refusal among `hooks` (refuseSwitchOut), thrown. */
export function checkSwitchOutAllowed(hooks: readonly MachineSwitchHook[]): void {
  for (const h of hooks) {
    const refusal = h.refuseSwitchOut?.();
    if (refusal) throw refusal;
  }
}

/** What of its machine a switch hook may use besides the VM. */
export interface MachineSwitchContext {
  /** Every device interrupt line of the machine, to claim while the state is out of the kernel (machine/machine-irq-lines.ts). */
  readonly irqLines: MachineIrqLines;
}

/** What a plugin registers: given a machine's VM, its hook, or undefined when the machine has nothing of the plugin's. */
export type MachineSwitchHookFactory = (vm: KvmVM, machine: MachineSwitchContext) => MachineSwitchHook | undefined;

/** MachineSwitchHookFactory registrations (multi, machine container). */
export const MACHINE_SWITCH_HOOK = Symbol.for('kvmts.MachineSwitchHook');

/** The hooks of the machine of `vm`, from every factory registered in `container`. */
export function machineSwitchHooks(container: DependencyContainer, vm: KvmVM, machine: MachineSwitchContext): MachineSwitchHook[] {
  return resolveAllOrNone<MachineSwitchHookFactory>(container, MACHINE_SWITCH_HOOK)
    .map((factory) => factory(vm, machine))
    .filter((h): h is MachineSwitchHook => h !== undefined);
}

/** Run `step` of every hook in order (the first failure stops the rest and propagates). */
export async function runSwitchHooks(hooks: readonly MachineSwitchHook[], step: 'switchingOut' | 'resuming'): Promise<void> {
  for (const h of hooks) await h[step]();
}
