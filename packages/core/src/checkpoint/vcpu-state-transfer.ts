/**
 * Main-thread side of putting a saved vCPU state into its thread (the worker's
 * 'restoreVcpuState'). The thread keeps the last contexts it decoded, by the checksum of the
 * section they came from (vcpu-state.ts, heldContexts): when this controller's thread was sent a
 * section's context before, the call names it instead of sending it — no structured clone of the
 * context between threads, no second decode and check there. A thread that no longer holds it
 * (it held others since) answers 'context-not-held', changing nothing, and the context is sent.
 */
import type { VcpuController } from '../machine/vcpu-controller';
import type { RestoreVcpuResult, SavedVcpuState } from './vcpu-state';

/** Context keys each controller's thread was sent (a bounded record: a stale entry only costs a resend). */
const sentKeys = new WeakMap<VcpuController, string[]>();
const REMEMBERED = 8;

/**
 * The key a context is held under: the section's SHA-256 (what the restore checked its file
 * against), with the arch and the context format's version.
 */
export function contextKey(arch: string, version: number, sectionSha256: string): string {
  return `${arch}/${version}/${sectionSha256}`;
}

/** Restore `state` on `vcpu`'s thread, naming its context by `key` when the thread was sent it before. */
export async function restoreVcpuThread(vcpu: VcpuController, state: SavedVcpuState & { readonly threadContext: unknown }, key: string): Promise<void> {
  const sent = sentKeys.get(vcpu) ?? [];
  sentKeys.set(vcpu, sent);
  const at = sent.indexOf(key);
  let held = false;
  if (at >= 0) {
    sent.splice(at, 1);
    const { threadContext: _sentOnlyIfNotHeld, ...named } = state;
    held = (await vcpu.call<RestoreVcpuResult>('restoreVcpuState', { ...named, contextKey: key })) === 'restored';
  }
  if (!held) await vcpu.call<RestoreVcpuResult>('restoreVcpuState', { ...state, contextKey: key });
  sent.push(key);
  if (sent.length > REMEMBERED) sent.shift();
}
