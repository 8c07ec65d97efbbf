/**
 * `kvmts boot --json --memory-steps`: where the process's memory goes, step by step — the
 * breakdown behind the boot benchmark's one `hostMemory` figure (scripts/bench/README.md, `boot`).
 *
 * Each step samples this process: its resident set split as /proc/self/status splits it
 * (anonymous, file, shared memory), the part of it that is guest RAM (the guest RAM mappings'
 * own `Rss` in /proc/self/smaps, as memory-use.ts finds them: guest RAM is anonymous memory, or
 * file memory when a region has a backing file, so it cannot be told from the kinds alone), and
 * this thread's V8 heap. The vCPU threads'
 * heaps come from the machine itself (Machine.vcpuHeapStatistics) at the steps that have one.
 *
 * The first step is taken before the CLI's bundle loads (bin.ts), the others by the boot
 * command; the list is kept on a global so that both reach the same one whichever copy of this
 * module they run (the bundle carries its own). Reading smaps costs a few milliseconds (more
 * under emulation): only a run that asks for the steps pays it.
 */
import * as fs from 'node:fs';
import { residentKiBAt, statusKiB } from './memory-use';
import { msSinceProcessStart } from './bundle/startup-trace';

/**
 * node:v8, loaded by a run that records steps only (every `kvmts boot` loads this module). Not
 * core's nodeV8: dist/bin.js loads this module before the bundle, where importing core would
 * load the modular copy of it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const v8 = (): typeof import('node:v8') => require('node:v8') as typeof import('node:v8');

/** The flag that asks for the steps (on `kvmts boot`, with --json). */
export const MEMORY_STEPS_FLAG = '--memory-steps';

/** One thread's V8 heap at a step, KiB. */
export interface HeapAtStep {
  readonly usedKiB: number;
  readonly totalKiB: number;
  readonly externalKiB: number;
}

/** The process at one step; memory in KiB. */
export interface MemoryStep {
  readonly step: string;
  /** Milliseconds since the process started (msSinceProcessStart(), as boot's startupSteps). */
  readonly ms: number;
  /** VmRSS. */
  readonly rssKiB: number;
  /** The resident part of the guest RAM mappings (0 before there is a machine). */
  readonly guestRssKiB: number;
  /** rssKiB − guestRssKiB: hostMemory's vmmRssKiB at this step. */
  readonly vmmRssKiB: number;
  /** RssAnon, RssFile, RssShmem: the resident set by kind (they add up to VmRSS). */
  readonly anonKiB: number;
  readonly fileKiB: number;
  readonly shmemKiB: number;
  readonly threads: number;
  /** This (the main) thread's V8 heap. */
  readonly heap: HeapAtStep;
  /** Each vCPU thread's V8 heap, where the step had a machine to ask. */
  readonly vcpuHeaps?: readonly HeapAtStep[];
  /** The C heap over every thread's arena (native's mallocStats), where the step asked (not before the bundle loads). */
  readonly malloc?: MallocAtStep;
}

/** The C heap at a step, KiB: what the arenas hold from the system, of it in use and free, and the blocks mmapped one by one. */
export interface MallocAtStep {
  readonly arenaKiB: number;
  readonly inUseKiB: number;
  readonly freeKiB: number;
  readonly mmappedKiB: number;
}

const KiB = (bytes: number): number => Math.round(bytes / 1024);

/** The /proc status `Threads:` count. */
export function statusThreads(status: string): number {
  const m = /^Threads:\s+(\d+)$/m.exec(status);
  if (!m) throw new Error('/proc status has no Threads line');
  return Number(m[1]);
}

/** A step from /proc texts and heap figures (bytes): the pure part, tested on golden text. */
export function memoryStepFrom(
  step: string,
  ms: number,
  status: string,
  guest: { readonly smaps: string; readonly starts: readonly bigint[] } | undefined,
  heap: { readonly used_heap_size: number; readonly total_heap_size: number; readonly external_memory: number },
  vcpuHeaps?: readonly { readonly usedHeapBytes: number; readonly totalHeapBytes: number; readonly externalBytes: number }[],
  malloc?: { readonly arenaBytes: number; readonly inUseBytes: number; readonly freeBytes: number; readonly mmappedBytes: number },
): MemoryStep {
  const rssKiB = statusKiB(status, 'VmRSS');
  const guestRssKiB = guest === undefined ? 0 : residentKiBAt(guest.smaps, guest.starts);
  return {
    step,
    ms: Math.round(ms * 10) / 10,
    rssKiB,
    guestRssKiB,
    vmmRssKiB: rssKiB - guestRssKiB,
    anonKiB: statusKiB(status, 'RssAnon'),
    fileKiB: statusKiB(status, 'RssFile'),
    shmemKiB: statusKiB(status, 'RssShmem'),
    threads: statusThreads(status),
    heap: { usedKiB: KiB(heap.used_heap_size), totalKiB: KiB(heap.total_heap_size), externalKiB: KiB(heap.external_memory) },
    ...(vcpuHeaps ? { vcpuHeaps: vcpuHeaps.map((h) => ({ usedKiB: KiB(h.usedHeapBytes), totalKiB: KiB(h.totalHeapBytes), externalKiB: KiB(h.externalBytes) })) } : {}),
    ...(malloc ? { malloc: { arenaKiB: KiB(malloc.arenaBytes), inUseKiB: KiB(malloc.inUseBytes), freeKiB: KiB(malloc.freeBytes), mmappedKiB: KiB(malloc.mmappedBytes) } } : {}),
  };
}

const STEPS = Symbol.for('kvmts.cli.memorySteps');
type StepsHolder = { [STEPS]?: MemoryStep[] };

/** Whether `argv` (process.argv) is a `kvmts boot` that asks for the steps. */
export function memoryStepsWanted(argv: readonly string[]): boolean {
  return argv[2] === 'boot' && argv.slice(3).includes(MEMORY_STEPS_FLAG);
}

/** Start the list when `argv` asks for it, with the step `node-started` (bin.ts, before the bundle). */
export function startMemorySteps(argv: readonly string[]): void {
  if (!memoryStepsWanted(argv)) return;
  (globalThis as StepsHolder)[STEPS] ??= [];
  recordMemoryStep('node-started');
}

/** Sample the process now as `step` (guest RAM at `guestRamStarts`), and keep it. */
export function recordMemoryStep(
  step: string,
  guestRamStarts?: readonly bigint[],
  vcpuHeaps?: Parameters<typeof memoryStepFrom>[5],
  malloc?: Parameters<typeof memoryStepFrom>[6],
): MemoryStep {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const guest = guestRamStarts && guestRamStarts.length > 0 ? { smaps: fs.readFileSync('/proc/self/smaps', 'utf8'), starts: guestRamStarts } : undefined;
  const sample = memoryStepFrom(step, msSinceProcessStart(), status, guest, v8().getHeapStatistics(), vcpuHeaps, malloc);
  ((globalThis as StepsHolder)[STEPS] ??= []).push(sample);
  return sample;
}

/** The steps recorded so far in this process. */
export function recordedMemorySteps(): readonly MemoryStep[] {
  return (globalThis as StepsHolder)[STEPS] ?? [];
}
