/**
 * The receive queue: a ring of a power-of-two size in shared memory, written by the host
 * (`uartPushInput`) or by loopback, read by the guest through RBR. Callers hold the UART's lock.
 */
import { UART_LSR } from './registers';
import type { UartState } from './state';

export class ReceiveRing {
  private readonly mask: number;

  constructor(private readonly s: UartState) {
    this.mask = s.rxRing.length - 1;
  }

  count(): number {
    return (this.s.rxTail - this.s.rxHead) >>> 0;
  }

  /** Appends a byte. When full, drops it and sets LSR.OE, as a real UART overruns; returns false then. */
  push(value: number): boolean {
    const s = this.s;
    const tail = s.rxTail;
    if (((tail - s.rxHead) >>> 0) > this.mask) {
      s.lsrErrors |= UART_LSR.OE;
      return false;
    }
    s.rxRing[tail & this.mask] = value;
    s.rxTail = tail + 1;
    return true;
  }

  /** Appends as many of `data` as fit; returns how many did. */
  pushAll(data: Uint8Array): number {
    let accepted = 0;
    while (accepted < data.length && this.push(data[accepted])) accepted++;
    return accepted;
  }

  /** Takes the oldest byte; 0 when empty, which is what RBR reads then. */
  pop(): number {
    const s = this.s;
    if (this.count() === 0) return 0;
    const head = s.rxHead;
    s.rxHead = head + 1;
    return s.rxRing[head & this.mask];
  }

  clear(): void {
    this.s.rxHead = this.s.rxTail;
  }
}
