/**
 * irqfds in a checkpoint (section `vm.irqfds`): which GSIs had an eventfd bound with KVM_IRQFD.
 * An eventfd is a file of the saving process, so it cannot travel; what travels is the binding.
 * A restore makes the VM's bindings what they were: a GSI that had n bindings at the save has n
 * after it — those the restored machine's own composition made (a device binding one at
 * construction) count, the missing ones are bound to new eventfds the VM owns, and bindings the
 * checkpoint did not have (made on a running machine restored into) are released. The host finds
 * a re-bound one with `Irqfd.onGsi(machine.vm, gsi)` (or `vm.irqfds()`). What the GSI then does
 * is the routing table's business (x86: the `x86.gsi-routing` section).
 */
import { CheckpointError } from '../errors/errors';
import type { CheckpointComponent, CheckpointContext } from './component';

export const IRQFD_SECTION = 'vm.irqfds';

interface IrqfdSection {
  /** GSIs with a bound eventfd, one entry per binding, in binding order. */
  readonly gsis: readonly number[];
}

function savedGsis(state: unknown): number[] {
  const gsis = (state as Partial<IrqfdSection> | null)?.gsis;
  if (!Array.isArray(gsis) || gsis.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffffffff)) {
    throw new CheckpointError(`section '${IRQFD_SECTION}'`, 'must hold { gsis: [unsigned 32-bit integers] }', { code: 'corrupt' });
  }
  return gsis as number[];
}

export const irqfdComponent: CheckpointComponent = {
  name: IRQFD_SECTION,
  version: 1,
  save(ctx: CheckpointContext): IrqfdSection {
    return { gsis: ctx.vm.irqfds().map((b) => b.gsi) };
  },
  restore(ctx: CheckpointContext, state: unknown): void {
    const wanted = new Map<number, number>();
    for (const gsi of savedGsis(state)) wanted.set(gsi, (wanted.get(gsi) ?? 0) + 1);
    // Keep up to the saved count per GSI (oldest first), release the rest, then bind what is missing.
    for (const b of ctx.vm.irqfds()) {
      const left = wanted.get(b.gsi) ?? 0;
      if (left > 0) wanted.set(b.gsi, left - 1);
      else ctx.vm.removeIrqfd(b.gsi, b.fd);
    }
    for (const [gsi, missing] of wanted) for (let i = 0; i < missing; i++) ctx.vm.addIrqfd(gsi);
  },
};
