/**
 * A device's receive queue in shared memory: a ring of a power-of-two size, filled by the host
 * (or by loopback) and drained by the guest, one byte at a time. The counters are free-running
 * u32 (they wrap modulo 2^32), so full and empty are told apart without a spare slot. Callers
 * hold the device's SharedLock; UARTs of every architecture use it (16550, PL011).
 */
import { ConfigError } from '../errors/errors';
import { defineSharedLayout, type SharedFieldTable, type SharedLayout } from './shared-layout';

/** The layout fields the ring lives in: `rxHead`/`rxTail` ('u32') and `rxRing` ({ bytes: 2^n }). */
export interface ReceiveRingFields {
  rxHead: number;
  rxTail: number;
  readonly rxRing: Uint8Array;
}

export class SharedReceiveRing {
  private readonly mask: number;

  constructor(protected readonly fields: ReceiveRingFields) {
    this.mask = fields.rxRing.length - 1;
  }

  count(): number {
    return (this.fields.rxTail - this.fields.rxHead) >>> 0;
  }

  full(): boolean {
    return this.count() > this.mask;
  }

  /** Appends a byte; when full it is dropped (an overrun) and false is returned. */
  push(value: number): boolean {
    if (this.full()) return false;
    const tail = this.fields.rxTail;
    this.fields.rxRing[tail & this.mask] = value;
    this.fields.rxTail = tail + 1;
    return true;
  }

  /** Appends as many of `data` as fit; returns how many did. */
  pushAll(data: Uint8Array): number {
    let accepted = 0;
    while (accepted < data.length && this.push(data[accepted])) accepted++;
    return accepted;
  }

  /** Takes the oldest byte; 0 when empty (what a UART's data register reads then). */
  pop(): number {
    if (this.count() === 0) return 0;
    const head = this.fields.rxHead;
    this.fields.rxHead = head + 1;
    return this.fields.rxRing[head & this.mask];
  }

  /** Drops everything queued. */
  clear(): void {
    this.fields.rxHead = this.fields.rxTail;
  }
}

/** Receive queue sizes a device offers: powers of two in [min, max]. */
export interface ReceiveQueueSizes {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/**
 * The layouts of a device whose shared state ends in a receive ring sized by an option: one
 * layout per ring size, made once (so every binding of one size shares accessors), and the way
 * back from a buffer to its layout — its length tells the ring size — for code that is handed
 * only the buffer (host input, checkpoints).
 */
export interface RingSizedLayouts<F extends SharedFieldTable> {
  layout(rxQueueBytes: number): SharedLayout<F>;
  /** The layout `shared` was allocated with; a ConfigError `<name>.shared` when no size fits. */
  layoutOf(shared: SharedArrayBuffer): SharedLayout<F>;
}

export function ringSizedLayouts<const F extends SharedFieldTable>(spec: {
  readonly name: string;
  readonly version: number;
  readonly sizes: ReceiveQueueSizes;
  readonly fields: (rxQueueBytes: number) => F;
}): RingSizedLayouts<F> {
  const made = new Map<number, SharedLayout<F>>();
  const layout = (rxQueueBytes: number): SharedLayout<F> => {
    let l = made.get(rxQueueBytes);
    if (l === undefined) {
      l = defineSharedLayout({ name: spec.name, version: spec.version, fields: spec.fields(rxQueueBytes) });
      made.set(rxQueueBytes, l);
    }
    return l;
  };
  return {
    layout,
    layoutOf(shared) {
      for (let bytes = spec.sizes.min; bytes <= spec.sizes.max; bytes *= 2) {
        if (layout(bytes).byteLength === shared.byteLength) return layout(bytes);
      }
      throw new ConfigError(`${spec.name}.shared`, `a ${shared.byteLength}-byte buffer is not a ${spec.name}'s shared state`);
    },
  };
}
