/**
 * The PL011's shared state: the layout every instance (one per vCPU thread, one on the main
 * thread) binds, and its power-on values.
 */
import { ringSizedLayouts, type ReceiveQueueSizes, type SharedState } from '@kvmts/core';
import { PL011_RESET } from './registers';

/** Receive queue sizes: powers of two in [min, max]. */
export const PL011_RX_QUEUE_BYTES: ReceiveQueueSizes = { min: 16, max: 65536, default: 256 };

function pl011Fields(rxQueueBytes: number) {
  return {
    lock: 'lock',
    /** Receive ring read and write counters, free-running modulo 2^32. */
    rxHead: 'u32',
    rxTail: 'u32',
    cr: 'u32',
    ifls: 'u32',
    imsc: 'u32',
    /** Latched raw interrupt bits (TX); RX is derived from the ring. */
    risLatched: 'u32',
    ibrd: 'u32',
    fbrd: 'u32',
    dmacr: 'u32',
    lcrH: 'u8',
    ilpr: 'u8',
    /** Last level driven on the interrupt line, so only changes reach setIrqLine. */
    irqLevel: 'u8',
    /** 0 until some instance applied the power-on values (shared memory starts zero-filled). */
    initialized: 'u8',
    rxRing: { bytes: rxQueueBytes },
  } as const;
}

export type Pl011Fields = ReturnType<typeof pl011Fields>;
export type Pl011State = SharedState<Pl011Fields>;

const layouts = ringSizedLayouts({ name: 'pl011', version: 1, sizes: PL011_RX_QUEUE_BYTES, fields: pl011Fields });

/** The layout for a receive ring of `rxQueueBytes` (a power of two; the plugin checks the option). */
export const pl011Layout = layouts.layout;

/** The layout a PL011's buffer was allocated with (its size tells the ring size). */
export const pl011LayoutOf = layouts.layoutOf;

/** Power-on values; the caller holds the lock. */
export function resetPl011State(s: Pl011State): void {
  s.rxHead = 0;
  s.rxTail = 0;
  s.cr = PL011_RESET.cr;
  s.ifls = PL011_RESET.ifls;
  s.imsc = 0;
  s.risLatched = 0;
  s.ibrd = 0;
  s.fbrd = 0;
  s.dmacr = 0;
  s.lcrH = 0;
  s.ilpr = 0;
  s.initialized = 1;
}
