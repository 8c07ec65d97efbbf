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
 * before machine.run() (so inside the start-up figure, startMs). A machine with its vCPU on the
 * main thread has no vCPU heap to collect, and by default skips it (startupCollectionWanted). A vCPU thread only answers
 * between runs, which is why this happens before the first one. core's collectGarbage clears
 * `--expose-gc` again at once (under a process-wide lock), so the code cache the CLI writes at
 * exit stays valid.
 */
import { ConfigError, collectGarbage, type Machine } from '@kvmts/core';
import { mallocTrim } from '@kvmts/native';

/** Unset or empty: `auto` (below); `1`: always; `0`: never (to measure it: scripts/bench/boot-memory.js). */
export const STARTUP_COLLECTION_ENV = 'KVMTS_BOOT_COLLECT';

/** What KVMTS_BOOT_COLLECT asks for. */
export type StartupCollectionSetting = 'auto' | 'always' | 'never';

/** KVMTS_BOOT_COLLECT read from `env`; a value other than empty, 0 or 1 is a ConfigError naming the variable. */
export function startupCollectionSetting(env: NodeJS.ProcessEnv = process.env): StartupCollectionSetting {
  const raw = env[STARTUP_COLLECTION_ENV];
  if (raw === undefined || raw === '') return 'auto';
  if (raw === '1') return 'always';
  if (raw === '0') return 'never';
  throw new ConfigError(STARTUP_COLLECTION_ENV, `must be 1 (collect the start-up's garbage before the guest runs), 0 (do not) or empty (only where vCPU threads were started), got '${raw}'`);
}

/**
 * Whether to collect for a machine whose vCPUs all run on the main thread (`vcpusOnMainThread`)
 * or not. `auto` collects only where vCPU threads were started: each has a heap of its own full of
 * start-up garbage that it never collects while its guest runs (~7 MiB of a two-thread boot).
 * With the vCPU on the main thread it gave back 2.4 MiB (15.9 → 13.5 MiB over a bare Node, against
 * a 40 MiB target) for ~350 ms of start-up in the emulated arm64 host: its full collection ran
 * on both emulated CPUs while the kernel's read into guest RAM waited for one
 * (scripts/bench/README.md, `boot`).
 */
export function startupCollectionWanted(setting: StartupCollectionSetting, vcpusOnMainThread: boolean): boolean {
  return setting === 'always' || (setting === 'auto' && !vcpusOnMainThread);
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
