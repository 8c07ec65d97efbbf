/**
 * A lock in one 32-bit word of a device's shared state (a 'lock' field of its SharedLayout).
 *
 * Device instances live in every vCPU thread and on the main thread; they are one device because
 * their registers live in `ctx.shared`, and this lock makes each register access atomic across
 * those threads. A register access is a few loads and stores, but the critical section also
 * drives the interrupt line (KVM_IRQ_LINE, ~5 µs), so a waiter spins briefly and then sleeps
 * with Atomics.wait instead of burning a CPU that a vCPU could use.
 *
 * What must stay under the lock:
 *  - every read and write of the shared registers, and
 *  - the interrupt-line level changes those writes cause (`ctx.setIrqLine`). The level must reach
 *    KVM in the order the state changed: if vCPU A computes "assert" and vCPU B then computes
 *    "deassert", but B's ioctl lands first and A's after, the line stays asserted while the
 *    registers say it should not be — a stale level nothing will correct until the next change.
 *
 * What must not: console output and power-off requests. They post to the main thread or kick
 * other vCPUs, and no other vCPU should wait on that. Collect them under the lock (DeferredEffects)
 * and perform them after `release()`.
 *
 * Not re-entrant: a thread that acquires twice deadlocks against itself.
 */

/** The lock word's states: the three-state futex mutex of Drepper's "Futexes Are Tricky". */
const UNLOCKED = 0;
/** Held, and nobody sleeps on the word: release needs no wake-up. */
const LOCKED = 1;
/** Held, and a thread may sleep on the word: release must wake one. */
const LOCKED_CONTENDED = 2;

/**
 * Tries before sleeping. One try is an Atomics.load (~5 ns), so 1000 cover about one
 * KVM_IRQ_LINE ioctl — the longest thing a holder does — while sleeping costs a futex wait
 * here and a wake-up system call in the holder's release.
 */
const SPINS_BEFORE_SLEEP = 1000;

export class SharedLock {
  /** `words[index]` is the lock word; it must start UNLOCKED (zero-filled shared memory does). */
  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {}

  acquire(): void {
    const words = this.words;
    const index = this.index;
    if (Atomics.compareExchange(words, index, UNLOCKED, LOCKED) === UNLOCKED) return;
    for (let spin = 0; spin < SPINS_BEFORE_SLEEP; spin++) {
      if (Atomics.load(words, index) === UNLOCKED && Atomics.compareExchange(words, index, UNLOCKED, LOCKED) === UNLOCKED) return;
    }
    // Mark the word contended before sleeping, so the holder's release wakes us. Whoever takes the
    // lock this way leaves it marked contended, since other sleepers may remain behind it.
    while (Atomics.exchange(words, index, LOCKED_CONTENDED) !== UNLOCKED) {
      Atomics.wait(words, index, LOCKED_CONTENDED);
    }
  }

  release(): void {
    if (Atomics.exchange(this.words, this.index, UNLOCKED) === LOCKED_CONTENDED) Atomics.notify(this.words, this.index, 1);
  }
}
