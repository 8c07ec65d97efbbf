/**
 * Typed layouts of device state in a SharedArrayBuffer.
 *
 * A device is instantiated in every vCPU thread and on the main thread; the instances are one
 * device because their registers live in `ctx.shared`. A layout declares those fields once, as a
 * table (like the ABI tables), and turns it into offsets, the buffer size, accessors for the
 * device, and what generic checkpointing (shared-state-checkpoint.ts) copies.
 *
 *   const layout = defineSharedLayout({
 *     name: 'uart8250', version: 1,
 *     fields: { lock: 'lock', ier: 'u8', rxHead: 'u32', rxRing: { bytes: rxQueueBytes } },
 *   });
 *   const s = layout.bind(ctx.shared);   // once per instance
 *   s.lock.acquire(); s.ier = 0x0f; s.lock.release();
 *
 * A part whose size comes from the options (a receive ring) makes the layout a function of the
 * options: build it from them, as above.
 */
import { ConfigError } from '../errors/errors';
import { SharedLock } from './shared-lock';

/**
 * Scalar fields, exposed as number properties:
 *  - 'u8'          a byte, read and written under the device's lock;
 *  - 'u32'         an unsigned 32-bit word under the lock (free-running counters wrap modulo 2^32);
 *  - 'atomic-u32'  an unsigned 32-bit word read and written with Atomics, for values that other
 *                  threads read without taking the lock.
 */
export type SharedScalarKind = 'u8' | 'u32' | 'atomic-u32';
/** Raw bytes (a ring, a buffer), exposed as a Uint8Array over the shared memory. */
export interface SharedBytesKind {
  readonly bytes: number;
}
/** A 'lock' field is one 32-bit word, exposed as a SharedLock; checkpoints never save it held. */
export type SharedFieldKind = SharedScalarKind | 'lock' | SharedBytesKind;
export type SharedFieldTable = Readonly<Record<string, SharedFieldKind>>;

export interface SharedLayoutSpec<F extends SharedFieldTable> {
  /** Names the state in saved blobs, e.g. 'uart8250'. */
  readonly name: string;
  /** Bump on any change of fields, order or meaning: a saved blob restores only into its own version. */
  readonly version: number;
  /** The fields, laid out in this order, each aligned to its size (bytes fields: unaligned). */
  readonly fields: F;
}

/** Where one field sits in the buffer. */
export interface SharedField {
  readonly kind: SharedFieldKind;
  readonly offset: number;
  readonly size: number;
}

/** A buffer seen through a layout: one property per field. Scalars are writable; locks and byte views are not. */
export type SharedState<F extends SharedFieldTable> = {
  -readonly [K in keyof F as F[K] extends SharedScalarKind ? K : never]: number;
} & {
  readonly [K in keyof F as F[K] extends 'lock' ? K : never]: SharedLock;
} & {
  readonly [K in keyof F as F[K] extends SharedBytesKind ? K : never]: Uint8Array;
};

export interface SharedLayout<F extends SharedFieldTable = SharedFieldTable> {
  readonly name: string;
  readonly version: number;
  /** Size of the shared buffer, a multiple of 4: the machine allocates exactly this many bytes. */
  readonly byteLength: number;
  readonly fields: { readonly [K in keyof F]: SharedField };
  /**
   * Accessors over `shared`, which must be exactly `byteLength` bytes (else ConfigError). Bind once
   * per device instance: accesses then allocate nothing and go through accessors shared by every
   * binding of an identical layout, so the exit path stays monomorphic.
   *
   * With `byteOffset`, the state is the `byteLength` bytes at that offset (a multiple of 4) of a
   * larger buffer: how a container device (the PCI host) gives each part it hosts its own layout
   * inside the one buffer the machine allocates for it.
   */
  bind(shared: SharedArrayBuffer, byteOffset?: number): SharedState<F>;
}

const BYTES = Symbol('bytes');
const WORDS = Symbol('words');

/** What every bound state holds; the field accessors live on per-layout subclasses' prototypes. */
class SharedStateBase {
  readonly [BYTES]: Uint8Array;
  readonly [WORDS]: Int32Array;
  constructor(bytes: Uint8Array, words: Int32Array) {
    this[BYTES] = bytes;
    this[WORDS] = words;
  }
}

function sizeOf(kind: SharedFieldKind): number {
  if (typeof kind === 'object') return kind.bytes;
  return kind === 'u8' ? 1 : 4;
}

function alignmentOf(kind: SharedFieldKind): number {
  return typeof kind === 'object' ? 1 : sizeOf(kind);
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Each accessor closes over its field's offset once, at layout definition — never per access. */
function scalarAccessor(kind: SharedScalarKind, offset: number): PropertyDescriptor {
  const index = offset >> 2;
  switch (kind) {
    case 'u8':
      return {
        get(this: SharedStateBase) { return this[BYTES][offset]; },
        set(this: SharedStateBase, value: number) { this[BYTES][offset] = value; },
      };
    case 'u32':
      return {
        get(this: SharedStateBase) { return this[WORDS][index] >>> 0; },
        set(this: SharedStateBase, value: number) { this[WORDS][index] = value; },
      };
    case 'atomic-u32':
      return {
        get(this: SharedStateBase) { return Atomics.load(this[WORDS], index) >>> 0; },
        set(this: SharedStateBase, value: number) { Atomics.store(this[WORDS], index, value); },
      };
  }
}

/**
 * One class per distinct set of scalar fields and offsets, so layouts rebuilt from the same
 * options (every thread builds its own) share accessors and V8's inline caches stay monomorphic.
 */
const stateClasses = new Map<string, typeof SharedStateBase>();

function stateClassFor(scalars: readonly (readonly [name: string, kind: SharedScalarKind, offset: number])[]): typeof SharedStateBase {
  const key = scalars.map(([name, kind, offset]) => `${name}:${kind}@${offset}`).join(',');
  let cls = stateClasses.get(key);
  if (cls === undefined) {
    cls = class extends SharedStateBase {};
    for (const [name, kind, offset] of scalars) Object.defineProperty(cls.prototype, name, scalarAccessor(kind, offset));
    stateClasses.set(key, cls);
  }
  return cls;
}

function checkField(layout: string, name: string, kind: SharedFieldKind): void {
  const setting = `${layout}.fields.${name}`;
  if (name in SharedStateBase.prototype) throw new ConfigError(setting, 'is a reserved name');
  if (typeof kind === 'object' && kind !== null) {
    if (!Number.isInteger(kind.bytes) || kind.bytes < 0) throw new ConfigError(setting, `bytes must be a non-negative integer, got ${String(kind.bytes)}`);
    return;
  }
  if (kind !== 'u8' && kind !== 'u32' && kind !== 'atomic-u32' && kind !== 'lock') {
    throw new ConfigError(setting, `unknown field kind ${JSON.stringify(kind)} (known: u8, u32, atomic-u32, lock, { bytes })`);
  }
}

/** Lay out a field table: offsets in declaration order, each field aligned to its size. */
export function defineSharedLayout<const F extends SharedFieldTable>(spec: SharedLayoutSpec<F>): SharedLayout<F> {
  const { name, version } = spec;
  if (typeof name !== 'string' || name === '') throw new ConfigError('sharedLayout.name', 'must be a non-empty string');
  if (!Number.isInteger(version) || version < 1) throw new ConfigError(`${name}.version`, `must be a positive integer, got ${String(version)}`);

  const fields: Record<string, SharedField> = {};
  const scalars: [string, SharedScalarKind, number][] = [];
  const locks: [string, number][] = [];
  const byteViews: [string, number, number][] = [];
  let end = 0;
  for (const [field, kind] of Object.entries(spec.fields)) {
    checkField(name, field, kind);
    const offset = alignUp(end, alignmentOf(kind));
    const size = sizeOf(kind);
    fields[field] = { kind, offset, size };
    if (kind === 'lock') locks.push([field, offset >> 2]);
    else if (typeof kind === 'object') byteViews.push([field, offset, size]);
    else scalars.push([field, kind, offset]);
    end = offset + size;
  }
  // Whole 32-bit words, so one Int32Array covers the buffer.
  const byteLength = alignUp(end, 4);
  const StateClass = stateClassFor(scalars);

  return {
    name,
    version,
    byteLength,
    fields: fields as SharedLayout<F>['fields'],
    bind(shared: SharedArrayBuffer, byteOffset?: number): SharedState<F> {
      const at = byteOffset ?? 0;
      if (byteOffset === undefined && shared.byteLength !== byteLength) {
        throw new ConfigError(`${name}.shared`, `buffer is ${shared.byteLength} bytes, layout '${name}' v${version} needs ${byteLength}`);
      }
      if (!Number.isInteger(at) || at < 0 || at % 4 !== 0 || at + byteLength > shared.byteLength) {
        throw new ConfigError(`${name}.shared`, `byteOffset ${String(byteOffset)} must be a multiple of 4 leaving ${byteLength} bytes in a buffer of ${shared.byteLength}`);
      }
      const words = new Int32Array(shared, at, byteLength >> 2);
      const state = new StateClass(new Uint8Array(shared, at, byteLength), words) as unknown as Record<string, unknown>;
      for (const [field, index] of locks) state[field] = new SharedLock(words, index);
      for (const [field, offset, size] of byteViews) state[field] = new Uint8Array(shared, at + offset, size);
      return state as SharedState<F>;
    },
  };
}
