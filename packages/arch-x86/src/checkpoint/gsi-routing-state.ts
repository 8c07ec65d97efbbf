/**
 * The GSI routing table in a checkpoint (section `x86.gsi-routing`, in-kernel irqchip only): the
 * table as the machine holds it (interrupts/gsi-routes.ts) — the PIC/IOAPIC routes it started
 * from and every MSI route added since (`x86GsiRouting(vm).addMsiRoute`). KVM has no call that
 * reads a routing table back, so kvmts' own copy is the record: KVM_SET_GSI_ROUTING replaces the
 * whole table, and every change goes through that copy.
 *
 * `routes: null` means no table was ever written (KVM_CREATE_IRQCHIP's defaults stand). Restoring
 * writes the saved table whole; restoring `null` into a machine that has written one (a warm
 * restore into a machine that added routes after the save) puts its defaults back.
 */
import { CheckpointError, type CheckpointComponent, type CheckpointContext, type GsiRoute } from '@kvmts/core';
import { existingX86GsiRouting, x86DefaultGsiRoutes, x86GsiRouting } from '../interrupts/gsi-routes';
import { x86MachineOptions } from '../machine-options';

interface GsiRoutingSection {
  readonly routes: readonly GsiRoute[] | null;
}

function savedRoutes(state: unknown): readonly GsiRoute[] | null {
  const s = state as Partial<GsiRoutingSection> | null;
  if (s === null || typeof s !== 'object' || !('routes' in s) || (s.routes !== null && !Array.isArray(s.routes))) {
    throw new CheckpointError("section 'x86.gsi-routing'", 'must hold { routes: [...] | null }', { code: 'corrupt' });
  }
  return s.routes ?? null;
}

export const x86GsiRoutingComponent: CheckpointComponent = {
  name: 'x86.gsi-routing',
  version: 1,
  save(ctx: CheckpointContext): GsiRoutingSection {
    const table = existingX86GsiRouting(ctx.vm);
    return { routes: table ? table.routes.map((r) => ({ ...r })) : null };
  },
  restore(ctx: CheckpointContext, state: unknown): void {
    const routes = savedRoutes(state);
    if (routes === null && existingX86GsiRouting(ctx.vm) === undefined) return; // KVM's defaults stand on both sides
    const table = x86GsiRouting(ctx.vm);
    table.replaceRoutes(routes ?? x86DefaultGsiRoutes(x86MachineOptions(ctx.config.archOptions).gsiRouting));
    table.commit();
  },
};
