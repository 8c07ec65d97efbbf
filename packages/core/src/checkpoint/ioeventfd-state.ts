/**
 * ioeventfds in a checkpoint (section `vm.ioeventfds`): which guest writes signal an eventfd
 * inside the kernel (KVM_IOEVENTFD), registered by a device or a user at any time — at build or
 * on a running machine. As with irqfds (irqfd-state.ts) the eventfd is a file of the saving
 * process and cannot travel; the registration does. A restore makes the VM's registrations what
 * they were at the save: a saved one the restored machine already has (its composition made it)
 * is kept, a missing one is registered on a new eventfd the VM owns, and one the checkpoint did
 * not have (made on a machine restored into) is unregistered. The host finds a re-registered one
 * in `machine.vm.ioeventfds()` by its address.
 */
import { CheckpointError } from '../errors/errors';
import type { IoeventfdBinding } from '../vm/kvm-vm';
import type { CheckpointComponent, CheckpointContext } from './component';

export const IOEVENTFD_SECTION = 'vm.ioeventfds';

/** One saved registration: what a guest write must match (the eventfd does not travel). */
export interface SavedIoeventfd {
  readonly address: number;
  readonly length: 0 | 1 | 2 | 4 | 8;
  readonly pio: boolean;
  /** Only writes of this value signal; null: any value. */
  readonly datamatch: bigint | null;
}

interface IoeventfdSection {
  /** In registration order. */
  readonly ioeventfds: readonly SavedIoeventfd[];
}

const LENGTHS: readonly number[] = [0, 1, 2, 4, 8];

/** The saved form of a registration. */
export function savedIoeventfd(b: IoeventfdBinding): SavedIoeventfd {
  return { address: b.address, length: b.length, pio: b.pio, datamatch: b.datamatch ?? null };
}

/** What makes two registrations the same for KVM (it refuses a second with EEXIST). */
const keyOf = (b: SavedIoeventfd): string => `${b.pio ? 'pio' : 'mmio'} 0x${b.address.toString(16)} len ${b.length} ${b.datamatch === null ? 'any' : `= 0x${b.datamatch.toString(16)}`}`;

/** The section's registrations, each field checked (a bad one is `corrupt`, naming it). */
export function savedIoeventfds(state: unknown): SavedIoeventfd[] {
  const where = `section '${IOEVENTFD_SECTION}'`;
  const list = (state as Partial<IoeventfdSection> | null)?.ioeventfds;
  if (!Array.isArray(list)) throw new CheckpointError(where, 'must hold { ioeventfds: [...] }', { code: 'corrupt' });
  return list.map((x: unknown, i) => {
    const e = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
    const bad = (field: string, expected: string): never => {
      throw new CheckpointError(`${where} ioeventfds[${i}].${field}`, `must be ${expected}, got ${String(e[field])}`, { code: 'corrupt' });
    };
    if (!Number.isSafeInteger(e.address) || (e.address as number) < 0) bad('address', 'an unsigned integer');
    if (!LENGTHS.includes(e.length as number)) bad('length', 'one of 0, 1, 2, 4, 8');
    if (typeof e.pio !== 'boolean') bad('pio', 'a boolean');
    if (e.pio === true && (e.address as number) > 0xffff) bad('address', 'a port (0..0xffff) for a pio ioeventfd');
    if (e.datamatch !== null && (typeof e.datamatch !== 'bigint' || e.datamatch < 0n || e.datamatch >= 1n << 64n)) bad('datamatch', 'null or a bigint 0..2^64-1');
    return { address: e.address as number, length: e.length as SavedIoeventfd['length'], pio: e.pio as boolean, datamatch: e.datamatch as bigint | null };
  });
}

export const ioeventfdComponent: CheckpointComponent = {
  name: IOEVENTFD_SECTION,
  version: 1,
  save(ctx: CheckpointContext): IoeventfdSection {
    return { ioeventfds: ctx.vm.ioeventfds().map(savedIoeventfd) };
  },
  restore(ctx: CheckpointContext, state: unknown): void {
    const wanted = new Map<string, SavedIoeventfd[]>();
    for (const saved of savedIoeventfds(state)) wanted.set(keyOf(saved), [...(wanted.get(keyOf(saved)) ?? []), saved]);
    // Keep what the checkpoint has (oldest first), unregister the rest, then register what is missing.
    for (const b of ctx.vm.ioeventfds()) {
      const left = wanted.get(keyOf(savedIoeventfd(b)));
      if (left !== undefined && left.length > 0) left.shift();
      else ctx.vm.removeIoeventfd(b);
    }
    for (const missing of wanted.values()) {
      for (const m of missing) ctx.vm.addIoeventfd({ address: m.address, length: m.length, pio: m.pio, ...(m.datamatch !== null ? { datamatch: m.datamatch } : {}) });
    }
  },
};
