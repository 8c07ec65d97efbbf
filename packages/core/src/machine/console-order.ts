/**
 * Guest console output from several threads, handed on in the order it was written.
 *
 * Each vCPU thread posts its console bytes to the machine's thread on a port of its own, and
 * Node gives no order between two ports' messages: on an SMP guest, whose UART output moves
 * between vCPUs, a byte sent by one thread could reach the host before an earlier byte sent by
 * another. So every console message is numbered from one counter the threads share
 * (`takeConsoleSequence`, an atomic add in shared memory), and the machine's thread hands the
 * messages on in number order (`ConsoleOrder`).
 *
 * Why a number taken when the message is posted is the guest's order: a vCPU thread posts a
 * byte before its vCPU re-enters the guest, and a guest serialises its UART between CPUs (Linux
 * holds the port lock across the write), so the next byte, written from another vCPU, is
 * numbered after it. A number taken but whose message never comes (a thread stopped between the
 * two) must not hold the console forever: the held messages go on without it once the gap has
 * lasted through two timer periods of `gapMs` with no message handed on — two, because after a
 * long stretch of work on this thread its timers run before the port messages that queued
 * meanwhile, and one period could give up a message that has already arrived.
 */

/** Bytes of the shared counter (one Uint32: message numbers wrap at 2^32, compared modulo). */
export const CONSOLE_SEQUENCE_BYTES = 4;

/** The counter the machine's threads number their console messages from. */
export function createConsoleSequence(): SharedArrayBuffer {
  return new SharedArrayBuffer(CONSOLE_SEQUENCE_BYTES);
}

/** The next message number (unique across the threads sharing `counter`). */
export function takeConsoleSequence(counter: Uint32Array): number {
  return Atomics.add(counter, 0, 1);
}

const HALF_RANGE = 2 ** 31;

export class ConsoleOrder {
  /** The number of the next message to hand on. */
  private next = 0;
  private readonly held = new Map<number, Uint8Array>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  /** `next` when the gap timer last fired: the gap is given up only if nothing moved since. */
  private nextAtLastTick: number | undefined;
  /** A sink failure in a timer-driven flush, rethrown by the next deliver() or flush() (so a caller reports it). */
  private deferredError: { error: unknown } | undefined;

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly gapMs = 100,
  ) {}

  /** Messages waiting for an earlier number. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Message `seq`: handed on now if it is the next one (with any held ones it releases), held
   * if an earlier one has not come yet, handed on at once if it comes after its gap was given up.
   * A sink failure is thrown to the caller, with the order's state already advanced past it.
   */
  deliver(seq: number, bytes: Uint8Array): void {
    // This message is handled first: a failure the gap timer kept is reported, not paid for with it.
    const earlier = this.takeDeferred();
    try {
      this.place(seq, bytes);
    } finally {
      if (earlier) throw earlier.error;
    }
  }

  private place(seq: number, bytes: Uint8Array): void {
    const ahead = (seq - this.next) >>> 0;
    if (ahead === 0) {
      this.next = (this.next + 1) >>> 0;
      try {
        this.sink(bytes);
      } finally {
        this.release();
      }
    } else if (ahead < HALF_RANGE) {
      this.held.set(seq, bytes);
      if (this.gapTimer === undefined) this.armGapTimer();
    } else {
      // Its place was given up (gapMs passed without it): late, but not lost.
      this.sink(bytes);
    }
  }

  /**
   * Hand on everything held, in number order, skipping the gaps (the run ended). Throws a sink
   * failure — this flush's, or one the gap timer kept — after handing on what it could.
   */
  flush(): void {
    const earlier = this.takeDeferred();
    try {
      this.flushHeld();
    } finally {
      if (earlier) throw earlier.error;
    }
  }

  private flushHeld(): void {
    this.clearTimer();
    while (this.held.size > 0) {
      this.next = this.firstHeld();
      this.release();
    }
  }

  /** Held messages from `next` on while they are consecutive. */
  private release(): void {
    for (;;) {
      const bytes = this.held.get(this.next);
      if (bytes === undefined) break;
      this.held.delete(this.next);
      this.next = (this.next + 1) >>> 0;
      this.sink(bytes);
    }
    if (this.held.size === 0) this.clearTimer();
  }

  /** The held number closest after `next` (modulo 2^32). */
  private firstHeld(): number {
    let best = -1;
    let bestDistance = Infinity;
    for (const seq of this.held.keys()) {
      const d = (seq - this.next) >>> 0;
      if (d < bestDistance) {
        best = seq;
        bestDistance = d;
      }
    }
    return best;
  }

  private armGapTimer(): void {
    this.gapTimer = setTimeout(() => this.gapTick(), this.gapMs);
    // Never what keeps a process alive: a run's end and close() flush what is held.
    this.gapTimer.unref?.();
  }

  private gapTick(): void {
    this.gapTimer = undefined;
    if (this.held.size === 0) return;
    if (this.nextAtLastTick !== this.next) {
      // First tick of this gap (or the order moved since the last): give the queued messages a turn.
      this.nextAtLastTick = this.next;
      this.armGapTimer();
      return;
    }
    try {
      this.flushHeld();
    } catch (error) {
      this.deferredError ??= { error };
      // What the failure left held goes at the next tick, not never.
      if (this.held.size > 0 && this.gapTimer === undefined) this.armGapTimer();
    }
  }

  private takeDeferred(): { error: unknown } | undefined {
    const d = this.deferredError;
    this.deferredError = undefined;
    return d;
  }

  private clearTimer(): void {
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    this.nextAtLastTick = undefined;
  }
}
