/**
 * One lock for the whole process around V8's `--expose-gc` flag (thread-heap.ts' collectGarbage).
 *
 * Why: V8's flags are process-wide, and collectGarbage gets `gc` by setting the flag, making a
 * context, and clearing it again. Threads that do this at once (`kvmts boot` collects in the main
 * thread and every vCPU thread together) write the same flag storage concurrently, and each
 * would see another's clear between its own set and fetch. With the lock, one thread at a time
 * sets, fetches and clears.
 *
 * The lock is a SharedArrayBuffer in worker_threads' environment data, which a thread copies
 * when it starts: the thread that starts vCPU threads makes it first (shareGcFlagLock, called
 * before every vCPU thread's start), so all of them hold the same one. A thread started without
 * it (by code of its own) makes its own lock and falls back on collectGarbage's retry.
 * Loads nothing but `node:worker_threads`, on first use (vcpu-thread-start.ts loads it before core).
 */
import { nodeWorkerThreads } from '../util/lazy-builtins';

const GC_FLAG_LOCK_KEY = 'kvmts.gcFlagLock';
const UNLOCKED = 0;
const LOCKED = 1;

/** The process's lock word, made (and put where threads started from now on find it) on first use. */
export function shareGcFlagLock(): Int32Array {
  const { getEnvironmentData, setEnvironmentData } = nodeWorkerThreads();
  const known = getEnvironmentData(GC_FLAG_LOCK_KEY);
  // Across realms (jest): a SharedArrayBuffer by its tag, not instanceof.
  if (Object.prototype.toString.call(known) === '[object SharedArrayBuffer]') return new Int32Array(known as SharedArrayBuffer);
  const buffer = new SharedArrayBuffer(4);
  setEnvironmentData(GC_FLAG_LOCK_KEY, buffer);
  return new Int32Array(buffer);
}

/**
 * How long a thread waits for the lock before it goes ahead without it. The lock guards a few
 * flag writes and a context's creation (milliseconds); a holder that never lets go is a thread
 * terminated while it held it, and waiting for that one forever would hang every later caller.
 */
const LOCK_WAIT_LIMIT_MS = 2000;

/** `f()` with the process's flag lock held (see LOCK_WAIT_LIMIT_MS for the one exception). */
export function withGcFlagLock<T>(f: () => T): T {
  const lock = shareGcFlagLock();
  const deadline = Date.now() + LOCK_WAIT_LIMIT_MS;
  let held = false;
  while (!(held = Atomics.compareExchange(lock, 0, UNLOCKED, LOCKED) === UNLOCKED) && Date.now() < deadline) Atomics.wait(lock, 0, LOCKED, 10);
  try {
    return f();
  } finally {
    if (held) {
      Atomics.store(lock, 0, UNLOCKED);
      Atomics.notify(lock, 0, 1);
    }
  }
}
