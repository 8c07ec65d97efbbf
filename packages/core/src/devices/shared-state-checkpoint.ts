/**
 * Saving and restoring a device's shared state, generically: the layout says what the bytes are,
 * so a checkpoint is the bytes plus the layout's name and version, checked on the way back in.
 *
 * Lock words are neither saved as held nor overwritten on restore: a blob taken while some
 * thread held the lock must not come back locked, and a caller may hold the lock of the buffer
 * it restores into. Call both with the machine paused or while holding the layout's lock, so the
 * bytes are one consistent state.
 */
import { CheckpointError } from '../errors/errors';
import type { SharedField, SharedLayout } from './shared-layout';

/** A device's shared state as saved: plain, structured-cloneable data. */
export interface SavedSharedState {
  /** The layout's name, e.g. 'uart8250'. */
  readonly layout: string;
  readonly version: number;
  /** The buffer's bytes, lock words zeroed (unlocked). */
  readonly bytes: Uint8Array;
}

function lockFields(layout: SharedLayout): SharedField[] {
  return Object.values(layout.fields)
    .filter((field) => field.kind === 'lock')
    .sort((a, b) => a.offset - b.offset);
}

function checkTarget(layout: SharedLayout, shared: SharedArrayBuffer, where: string): void {
  if (shared.byteLength !== layout.byteLength) {
    throw new CheckpointError(where, `shared buffer is ${shared.byteLength} bytes, layout v${layout.version} has ${layout.byteLength}`);
  }
}

function stateName(layout: SharedLayout): string {
  return `device state '${layout.name}'`;
}

export function saveSharedState(layout: SharedLayout, shared: SharedArrayBuffer): SavedSharedState {
  checkTarget(layout, shared, stateName(layout));
  const bytes = new Uint8Array(shared).slice();
  for (const lock of lockFields(layout)) bytes.fill(0, lock.offset, lock.offset + lock.size);
  return { layout: layout.name, version: layout.version, bytes };
}

/**
 * Copy a saved state into `shared`, all but its lock words. Throws CheckpointError naming what
 * differs — the layout name, its version, or the size (a size differs when options such as a
 * queue length do) — and then leaves `shared` untouched.
 */
export function restoreSharedState(layout: SharedLayout, shared: SharedArrayBuffer, saved: SavedSharedState): void {
  const where = stateName(layout);
  checkTarget(layout, shared, where);
  if (saved.layout !== layout.name) {
    throw new CheckpointError(where, `saved state is of layout '${String(saved.layout)}', not '${layout.name}'`);
  }
  if (saved.version !== layout.version) {
    throw new CheckpointError(where, `saved state is layout version ${String(saved.version)}, this build has version ${layout.version}`);
  }
  // Any byte view will do (a Buffer, or a Uint8Array from another realm after structured clone).
  if (!ArrayBuffer.isView(saved.bytes)) throw new CheckpointError(where, 'saved state has no bytes');
  const bytes = new Uint8Array(saved.bytes.buffer, saved.bytes.byteOffset, saved.bytes.byteLength);
  if (bytes.byteLength !== layout.byteLength) {
    throw new CheckpointError(where, `saved state is ${bytes.byteLength} bytes, layout v${layout.version} has ${layout.byteLength} (different options?)`);
  }
  const target = new Uint8Array(shared);
  let from = 0;
  for (const lock of lockFields(layout)) {
    target.set(bytes.subarray(from, lock.offset), from);
    from = lock.offset + lock.size;
  }
  target.set(bytes.subarray(from), from);
}
