/**
 * Collects guest console bytes in the vCPU thread and hands them on in batches (at a newline,
 * when full, or on flush), so a chatty guest costs one postMessage per line, not per byte.
 */
export class ConsoleBuffer {
  private readonly buf = new Uint8Array(4096);
  private len = 0;

  constructor(private readonly sink: (bytes: Uint8Array) => void) {}

  push(byte: number): void {
    this.buf[this.len++] = byte;
    if (byte === 0x0a || this.len === this.buf.length) this.flush();
  }

  flush(): void {
    if (this.len === 0) return;
    this.sink(this.buf.slice(0, this.len));
    this.len = 0;
  }
}
