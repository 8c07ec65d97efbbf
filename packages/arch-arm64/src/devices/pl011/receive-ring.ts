/**
 * The receive FIFO: a ring of a power-of-two size in shared memory, written by the host
 * (`pl011PushInput`) or by loopback, read by the guest through UARTDR. Callers hold the lock.
 */
import type { Pl011State } from './state';

export class Pl011ReceiveRing {
  private readonly mask: number;

  constructor(private readonly s: Pl011State) {
    this.mask = s.rxRing.length - 1;
  }

  count(): number {
    return (this.s.rxTail - this.s.rxHead) >>> 0;
  }

  full(): boolean {
    return this.count() > this.mask;
  }

  /** Appends a byte; drops it when full (the guest sees an overrun as lost input). Returns whether it fit. */
  push(value: number): boolean {
    if (this.full()) return false;
    const tail = this.s.rxTail;
    this.s.rxRing[tail & this.mask] = value;
    this.s.rxTail = tail + 1;
    return true;
  }

  pushAll(data: Uint8Array): number {
    let accepted = 0;
    while (accepted < data.length && this.push(data[accepted])) accepted++;
    return accepted;
  }

  /** Takes the oldest byte; 0 when empty. */
  pop(): number {
    if (this.count() === 0) return 0;
    const head = this.s.rxHead;
    this.s.rxHead = head + 1;
    return this.s.rxRing[head & this.mask];
  }
}
