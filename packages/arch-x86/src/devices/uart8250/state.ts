/**
 * The UART's shared state: the layout that every instance (one per vCPU thread, one on the main
 * thread) binds, and its power-on values.
 */
import { ringSizedLayouts, type ReceiveQueueSizes, type SharedState } from '@kvmts/core';
import { UART_MCR } from './registers';

/** Receive queue sizes: powers of two in [min, max]. */
export const UART_RX_QUEUE_BYTES: ReceiveQueueSizes = { min: 16, max: 65536, default: 256 };

function uartFields(rxQueueBytes: number) {
  return {
    lock: 'lock',
    /** Receive ring read and write counters, free-running modulo 2^32 (full and empty differ without a spare slot). */
    rxHead: 'u32',
    rxTail: 'u32',
    ier: 'u8',
    lcr: 'u8',
    mcr: 'u8',
    /** Sticky LSR error bits (OE…BI), cleared by reading LSR. */
    lsrErrors: 'u8',
    /** MSR delta bits 3:0, cleared by reading MSR. */
    msrDelta: 'u8',
    scr: 'u8',
    dll: 'u8',
    dlm: 'u8',
    fcr: 'u8',
    /** The THRE interrupt condition (cleared by reading IIR while it is the cause). */
    thriPending: 'u8',
    /** Last level driven on the IRQ line, so only changes reach setIrqLine. */
    irqLevel: 'u8',
    /** 0 until some instance applied the power-on values (shared memory starts zero-filled). */
    initialized: 'u8',
    rxRing: { bytes: rxQueueBytes },
  } as const;
}

export type UartFields = ReturnType<typeof uartFields>;
export type UartState = SharedState<UartFields>;

const layouts = ringSizedLayouts({ name: 'uart8250', version: 1, sizes: UART_RX_QUEUE_BYTES, fields: uartFields });

/** The layout for a receive ring of `rxQueueBytes` (a power of two; the plugin checks the option). */
export const uart8250Layout = layouts.layout;

/** The layout a UART's buffer was allocated with (its size tells the ring size). */
export const uart8250LayoutOf = layouts.layoutOf;

/** Power-on values (QEMU and Firecracker agree): OUT2 set, divisor 12 (9600 baud), receive queue empty. The caller holds the lock. */
export function resetUartState(s: UartState): void {
  s.ier = 0;
  s.lcr = 0;
  s.mcr = UART_MCR.OUT2;
  s.lsrErrors = 0;
  s.msrDelta = 0;
  s.scr = 0;
  s.dll = 0x0c;
  s.dlm = 0;
  s.fcr = 0;
  s.thriPending = 0;
  s.rxHead = 0;
  s.rxTail = 0;
  s.initialized = 1;
}
