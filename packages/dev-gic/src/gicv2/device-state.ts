/**
 * The GICv2 device's shared state: a lock and the model's bytes (storage.ts), sized by the
 * geometry, so every instance (one per vCPU thread, one on the main thread) binds the same GIC
 * and checkpoints save it through the layout like any device's.
 */
import { defineSharedLayout, type SharedLayout, type SharedState } from '@kvmts/core';
import { gicV2StorageBytes, type GicV2Geometry } from './storage';

function gicV2Fields(modelBytes: number) {
  return { lock: 'lock', model: { bytes: modelBytes } } as const;
}

export type GicV2Fields = ReturnType<typeof gicV2Fields>;
export type GicV2SharedState = SharedState<GicV2Fields>;

const layouts = new Map<string, SharedLayout<GicV2Fields>>();

/** The layout of a GIC with `geometry` (one per geometry, so bindings share accessors). */
export function gicV2Layout(geometry: GicV2Geometry): SharedLayout<GicV2Fields> {
  const key = `${geometry.cpus}/${geometry.intids}/${geometry.priorityBits}`;
  let layout = layouts.get(key);
  if (layout === undefined) {
    // The geometry is in the name: a saved blob only restores into a GIC of the same shape.
    layout = defineSharedLayout({ name: `gicv2-${key.replaceAll('/', '-')}`, version: 1, fields: gicV2Fields(gicV2StorageBytes(geometry)) });
    layouts.set(key, layout);
  }
  return layout;
}
