import { ConfigError, type IrqLines, type KvmVM } from '@kvmts/core';
import type { X86InitialState } from '../state/initial-state';
import { createUserspaceIrqData, X86UserspaceInterrupts, type X86UserspaceIrqData } from './userspace-controller';

/** The userspace controller's shared state of each VM built with irqchip 'userspace' (main thread). */
const controllers = new WeakMap<KvmVM, X86UserspaceIrqData>();

/** Create the shared state for `vm`'s vCPUs (prepareBoot, irqchip 'userspace'). */
export function createVmUserspaceIrq(vm: KvmVM): X86UserspaceIrqData {
  const runMappings = vm.vcpuIds.map((id) => {
    const h = vm.vcpu(id)!.describe();
    return { id: h.runMappingId, size: h.runSize };
  });
  const data = createUserspaceIrqData(runMappings);
  controllers.set(vm, data);
  return data;
}

/**
 * The host's handle on the userspace interrupt controller of a machine built with
 * `archOptions.irqchip: 'userspace'` (e.g. `x86UserspaceInterrupts(machine.vm).raiseNmi(0)`).
 * Usable from the main thread while the vCPUs run; a raise kicks the target vCPU.
 */
export function x86UserspaceInterrupts(vm: KvmVM): X86UserspaceInterrupts {
  const data = controllers.get(vm);
  if (data === undefined) throw new ConfigError('archOptions.irqchip', "this VM has no userspace interrupt controller (create the machine with irqchip: 'userspace')");
  return new X86UserspaceInterrupts(data);
}

/** The userspace controller's shared state of `vm`, or undefined when it has none (checkpoints). */
export function vmUserspaceIrqData(vm: KvmVM): X86UserspaceIrqData | undefined {
  return controllers.get(vm);
}

/** ArchPlugin.irqLines: the userspace controller when the vCPU state carries one, else KVM_IRQ_LINE. */
export function x86IrqLines(_vmFd: number, state: X86InitialState): IrqLines | undefined {
  return state?.userspaceIrq !== undefined ? new X86UserspaceInterrupts(state.userspaceIrq) : undefined;
}
