/**
 * Collects guest console bytes in the vCPU thread and hands them on in batches (at a newline,
 * when full, or on flush), so a chatty guest costs one postMessage per line, not per byte.
 *
 * Only while this is the machine's one vCPU thread. With several, the guest's console output
 * moves between vCPUs mid-line (an SMP Linux transmits from whichever CPU takes the UART's
 * interrupt), and a partial line held here would reach the host after the rest of the line
 * another thread sent: the bytes are handed on one by one instead (`lineBuffered` false), and
 * the machine's thread puts the threads' messages back in order (console-order.ts).
 */
export class ConsoleBuffer {
  private readonly buf = new Uint8Array(4096);
  private len = 0;
  /** Batch up to a newline (one vCPU thread) or hand each byte on at once (several). */
  lineBuffered = true;

  constructor(private readonly sink: (bytes: Uint8Array) => void) {}

  push(byte: number): void {
    this.buf[this.len++] = byte;
    if (!this.lineBuffered || byte === 0x0a || this.len === this.buf.length) this.flush();
  }

  flush(): void {
    if (this.len === 0) return;
    this.sink(this.buf.slice(0, this.len));
    this.len = 0;
  }
}
