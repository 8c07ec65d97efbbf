/**
 * The guest console on the user's terminal (`kvmts boot`): guest bytes to an output stream;
 * keystrokes into the console device. On a TTY, stdin is put in raw mode and Ctrl-A x quits
 * (Ctrl-A Ctrl-A sends one Ctrl-A), as in QEMU; other input is piped as it comes, held back
 * while the device's receive queue is full (nothing is dropped).
 */
import * as fs from 'node:fs';
import type { ConsoleInput } from '@kvmts/core';

const CTRL_A = 0x01;
const QUIT_KEY = 0x78; // 'x'
const RETRY_MS = 5;

/**
 * Whether `fd` is /dev/null (`kvmts boot < /dev/null`, a benchmark's or a CI job's ignored stdin):
 * then there is no input to bridge, and none is read. Node reads a stdin that is not a terminal,
 * pipe or socket as a file, through libuv's thread pool: four more threads and ~2.5 MiB for an
 * input that is at its end before it starts (scripts/bench/README.md, `boot`: where the memory goes).
 */
export function isDevNull(fd: number): boolean {
  try {
    const st = fs.fstatSync(fd);
    const nul = fs.statSync('/dev/null');
    return st.isCharacterDevice() && nul.isCharacterDevice() && st.rdev === nul.rdev;
  } catch {
    return false; // a closed fd, no /dev/null: read it as before
  }
}

export interface ConsoleBridgeOptions {
  readonly input: NodeJS.ReadStream;
  readonly device: ConsoleInput;
  /** Called once when the user presses Ctrl-A x. */
  readonly onQuit: () => void;
}

export class ConsoleBridge {
  private pending: Uint8Array[] = [];
  private timer: NodeJS.Timeout | undefined;
  private escape = false;
  private readonly raw: boolean;
  private closed = false;
  private readonly onData = (chunk: Buffer) => this.receive(new Uint8Array(chunk));

  constructor(private readonly o: ConsoleBridgeOptions) {
    this.raw = Boolean(o.input.isTTY && typeof o.input.setRawMode === 'function');
    if (this.raw) o.input.setRawMode(true);
    o.input.on('data', this.onData);
    o.input.resume();
  }

  /** Restores the terminal and lets go of stdin (the process can exit). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.o.input.off('data', this.onData);
    if (this.raw) this.o.input.setRawMode(false);
    this.o.input.pause();
  }

  private receive(bytes: Uint8Array): void {
    const out = this.raw ? this.filterKeys(bytes) : bytes;
    if (out.length > 0) this.pending.push(out);
    this.flush();
  }

  /** Ctrl-A x quits; Ctrl-A Ctrl-A is a literal Ctrl-A; Ctrl-A + anything else is dropped. */
  private filterKeys(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.escape) {
        this.escape = false;
        if (b === QUIT_KEY) {
          this.o.onQuit();
          return Uint8Array.from(out);
        }
        if (b === CTRL_A) out.push(CTRL_A);
      } else if (b === CTRL_A) this.escape = true;
      else out.push(b);
    }
    return Uint8Array.from(out);
  }

  /** Pushes what the device accepts; pauses stdin and retries shortly while it is full. */
  private flush(): void {
    this.timer = undefined;
    while (this.pending.length > 0 && !this.closed) {
      const head = this.pending[0];
      const took = this.o.device.pushInput(head);
      if (took < head.length) {
        this.pending[0] = head.subarray(took);
        this.o.input.pause();
        this.timer = setTimeout(() => this.flush(), RETRY_MS);
        return;
      }
      this.pending.shift();
    }
    if (!this.closed) this.o.input.resume();
  }
}
