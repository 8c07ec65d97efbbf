/**
 * `kvmts boot`'s last start-up step before the guest runs: each thread gives back what its
 * start-up left behind.
 *
 * Why: the main thread and each vCPU thread end their start-up with heaps full of garbage —
 * module initialisation, the machine's and the vCPU's construction — and with V8 pages and C heap
 * reserved for it. While a guest runs, the main thread is nearly idle (console bytes, signals)
 * and a vCPU thread only scavenges its small young generation, so neither may run a full
 * collection for the whole run, and that memory stays resident: it is most of what kvmts holds
 * beyond a bare Node (scripts/bench/README.md, `boot`: "Where kvmts' memory beyond guest RAM
 * goes"). One full collection in every thread, then one malloc_trim (it trims every thread's
 * C heap arena), returns it before the guest starts.
 *
 * While the guest runs, the C heap is trimmed every few seconds (trimWhileRunning).
 *
 * Cost: the two collections run at once, the vCPU thread's while the main thread does its own,
 * before machine.run() (so inside the start-up figure, startMs). A vCPU thread only answers
 * between runs, which is why this happens before the first one. core's collectGarbage keeps
 * V8's flags as they were, so the code cache the CLI writes at exit stays valid.
 */
import { ConfigError, collectGarbage, type Machine } from '@kvmts/core';
import { mallocTrim } from '@kvmts/native';

/**
 * `1` or unset: the start-up collection and the trims while the guest runs; `start-up`: the
 * collection only; `0`: neither (scripts/bench/boot-memory.js measures each that way).
 */
export const STARTUP_COLLECTION_ENV = 'KVMTS_BOOT_COLLECT';

/** What `kvmts boot` gives back, and when. */
export interface MemoryGiveBack {
  /** One full collection in every thread, then malloc_trim, before the guest runs. */
  readonly startUp: boolean;
  /** malloc_trim every TRIM_INTERVAL_MS while the guest runs. */
  readonly whileRunning: boolean;
}

/** What `env` asks for; any other value is a ConfigError naming the variable. */
export function memoryGiveBack(env: NodeJS.ProcessEnv = process.env): MemoryGiveBack {
  const raw = env[STARTUP_COLLECTION_ENV];
  if (raw === undefined || raw === '' || raw === '1') return { startUp: true, whileRunning: true };
  if (raw === 'start-up') return { startUp: true, whileRunning: false };
  if (raw === '0') return { startUp: false, whileRunning: false };
  throw new ConfigError(
    STARTUP_COLLECTION_ENV,
    `must be 1 (collect the start-up's garbage before the guest runs, trim the C heap while it runs), start-up (the collection only) or 0 (neither), got '${raw}'`,
  );
}

/**
 * How often the C heap is trimmed while a guest runs. Why at all: the V8 platform's background
 * threads (the JIT compiling the exit path, concurrent marking) and the message traffic between
 * the threads allocate and free C heap in their own glibc arenas, which keep what was freed;
 * a trim returns it. One trim walks a few arenas of a few MiB: well under a millisecond natively.
 */
export const TRIM_INTERVAL_MS = 2000;

/** Trims the C heap every TRIM_INTERVAL_MS from now (the timer never keeps the process alive); returns what stops it. */
export function trimWhileRunning(trim: () => unknown = mallocTrim): () => void {
  const timer = setInterval(trim, TRIM_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * One full collection in each of `machine`'s vCPU threads (they must be idle: before the first
 * run) and in this thread, both at once, then malloc_trim. Resolves when all are done.
 */
export async function collectStartupGarbage(machine: Pick<Machine, 'vcpuHeapStatistics'>): Promise<void> {
  const vcpus = machine.vcpuHeapStatistics({ gc: true });
  try {
    collectGarbage();
  } finally {
    // Awaited even when this thread's collection threw: no call is left unanswered behind us.
    await vcpus;
  }
  mallocTrim();
}
