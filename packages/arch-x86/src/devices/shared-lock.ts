/**
 * A spin lock in a SharedArrayBuffer word. Device instances live in every vCPU thread (and on
 * the main thread) and share their registers through `ctx.shared`; one register access is a
 * handful of loads and stores, so a spin lock held that long is cheaper than anything that sleeps.
 */
export function lockShared(words: Int32Array, index: number): void {
  while (Atomics.compareExchange(words, index, 0, 1) !== 0) {
    // Contention means another thread is inside a few-instruction critical section.
  }
}

export function unlockShared(words: Int32Array, index: number): void {
  Atomics.store(words, index, 0);
}
