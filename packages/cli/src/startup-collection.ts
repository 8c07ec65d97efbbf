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
 * Not done: trimming the C heap again while the guest runs (malloc_trim every 2 s) gave back
 * nothing measurable (scripts/bench/README.md, `boot`), so it is not done.
 *
 * Cost: the two collections run at once, the vCPU thread's while the main thread does its own,
 * before machine.run() (so inside the start-up figure, startMs). A vCPU thread only answers
 * between runs, which is why this happens before the first one. core's collectGarbage clears
 * `--expose-gc` again at once (under a process-wide lock), so the code cache the CLI writes at
 * exit stays valid.
 */
import { ConfigError, collectGarbage, type Machine } from '@kvmts/core';
import { mallocTrim } from '@kvmts/native';

/** `0` turns the collection off (to measure it: scripts/bench/boot-memory.js); `1` or unset: on. */
export const STARTUP_COLLECTION_ENV = 'KVMTS_BOOT_COLLECT';

/** Whether `env` asks for the collection; a value other than 0/1 is a ConfigError naming the variable. */
export function startupCollectionWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[STARTUP_COLLECTION_ENV];
  if (raw === undefined || raw === '' || raw === '1') return true;
  if (raw === '0') return false;
  throw new ConfigError(STARTUP_COLLECTION_ENV, `must be 1 (collect the start-up's garbage before the guest runs) or 0 (do not), got '${raw}'`);
}

/**
 * One full collection in each of `machine`'s vCPU threads (they must be idle: before the first
 * run) and in this thread, both at once, then malloc_trim. Resolves when all are done.
 */
export async function collectStartupGarbage(machine: Pick<Machine, 'vcpuHeapStatistics' | 'vcpus'>): Promise<void> {
  // A vCPU on this thread (vcpuThread 'main') has no heap of its own: this thread's collection is its.
  const vcpus = machine.vcpus.every((v) => v.onMainThread) ? Promise.resolve() : machine.vcpuHeapStatistics({ gc: true });
  try {
    collectGarbage();
  } finally {
    // Awaited even when this thread's collection threw: no call is left unanswered behind us.
    await vcpus;
  }
  mallocTrim();
}
