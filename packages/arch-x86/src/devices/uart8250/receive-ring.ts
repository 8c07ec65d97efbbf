/**
 * The 16550's receive queue: core's shared receive ring, written by the host (`uartPushInput`)
 * or by loopback, read by the guest through RBR. Callers hold the UART's lock.
 */
import { SharedReceiveRing } from '@kvmts/core';
import { UART_LSR } from './registers';
import type { UartState } from './state';

export class ReceiveRing extends SharedReceiveRing {
  constructor(private readonly s: UartState) {
    super(s);
  }

  /** When full, the byte is dropped and LSR.OE set, as a real UART overruns. */
  override push(value: number): boolean {
    if (super.push(value)) return true;
    this.s.lsrErrors |= UART_LSR.OE;
    return false;
  }
}
