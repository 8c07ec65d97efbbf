/**
 * One thread's V8 heap, as the thread itself sees it. Every worker thread has its own isolate,
 * so `process.memoryUsage()` on the main thread says nothing about a vCPU thread's heap: a vCPU
 * thread answers the 'heapStatistics' call (worker-protocol.ts) with this, and
 * `Machine.vcpuHeapStatistics()` collects them. Leak hunts (the soak benchmark) read it.
 */
import * as vm from 'node:vm';
import type { PerformanceObserver } from 'node:perf_hooks';
import { LifecycleError } from '../errors/errors';
import { withGcFlagLock } from './gc-flag-lock';
import { nodePerfHooks, nodeV8 } from '../util/lazy-builtins';

/** node:v8, loaded when a thread's heap is first asked for (../util/lazy-builtins.ts). */
const v8 = nodeV8;

/** Bytes, from `v8.getHeapStatistics()` of the thread that took them. */
export interface ThreadHeapStatistics {
  /** Live (and not yet collected) objects on the V8 heap. */
  readonly usedHeapBytes: number;
  /** What the V8 heap has reserved from the system. */
  readonly totalHeapBytes: number;
  /** Memory outside the heap that V8 objects keep alive (ArrayBuffer backing stores and the like). */
  readonly externalBytes: number;
  /** What V8 itself has malloc'ed for this isolate (its own tables, not objects). */
  readonly mallocedBytes: number;
  /** Native contexts alive in the isolate (a context leak shows here first). */
  readonly nativeContexts: number;
  /** Contexts dropped but not yet collected. */
  readonly detachedContexts: number;
  /**
   * Collections V8 ran on its own (forced ones left out) since this thread was first asked:
   * scavenges of the young generation and full mark-compacts. A thread that keeps allocating
   * but never gets a mark-compact keeps its promoted garbage, so its heap grows until one comes.
   */
  readonly scavenges: number;
  readonly markCompacts: number;
}

/** V8's own collections in this thread, counted from the first threadHeapStatistics call on. */
const gcCounts = { scavenges: 0, markCompacts: 0, observer: undefined as PerformanceObserver | undefined };

function countCollections(): void {
  if (gcCounts.observer !== undefined) return;
  const { PerformanceObserver, constants: perfConstants } = nodePerfHooks();
  gcCounts.observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { kind, flags } = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
      if ((flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) continue;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcCounts.scavenges++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) gcCounts.markCompacts++;
    }
  });
  gcCounts.observer.observe({ entryTypes: ['gc'] });
}

let gc: (() => void) | undefined;

/**
 * A full, synchronous garbage collection of this thread's heap, so that heap figures count live
 * objects rather than how far V8 got collecting, or a thread drops what its start-up left.
 * `gc` is the global one when the process was started with `--expose-gc`; otherwise the flag is
 * set at run time, `gc` fetched from a fresh context, and the flag cleared again at once. Why
 * cleared: V8's flags are process-wide and a hash of them is part of every code cache it makes
 * or takes, so a process that kept `--expose-gc` on would write code caches (the bundled CLI's,
 * made at exit) that the next, flag-less start refuses — every start would compile afresh.
 * The `gc` function keeps working after the flag is off. Once per thread.
 */
export function collectGarbage(): void {
  if (gc === undefined) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (typeof global === 'function') {
      gc = global;
    } else {
      gc = fetchGc();
    }
  }
  gc();
}

/** Tries before fetchGc gives up: each loses only to another thread clearing the flag in between. */
const FETCH_GC_TRIES = 1000;

/**
 * `gc` from a fresh context made while `--expose-gc` is on, the flag cleared again after, under
 * the process's flag lock (gc-flag-lock.ts: the vCPU threads and the main thread collect at once,
 * cli's startup-collection.ts). A thread that was started without the shared lock may still see
 * another clear the flag between its set and its fetch, and then simply tries again.
 */
function fetchGc(): () => void {
  for (let i = 0; i < FETCH_GC_TRIES; i++) {
    const found = withGcFlagLock(() => {
      v8().setFlagsFromString('--expose-gc');
      try {
        return vm.runInNewContext('typeof gc === "function" ? gc : undefined') as unknown;
      } finally {
        v8().setFlagsFromString('--no-expose-gc');
      }
    });
    if (typeof found === 'function') return found as () => void;
  }
  throw new LifecycleError('collectGarbage', `other threads cleared --expose-gc ${FETCH_GC_TRIES} times in a row`, 'fetch gc');
}

/** This thread's heap now; with `gc`, after a full collection. */
export function threadHeapStatistics(options: { readonly gc?: boolean } = {}): ThreadHeapStatistics {
  countCollections();
  if (options.gc === true) collectGarbage();
  const h = v8().getHeapStatistics();
  return {
    usedHeapBytes: h.used_heap_size,
    totalHeapBytes: h.total_heap_size,
    externalBytes: h.external_memory,
    mallocedBytes: h.malloced_memory,
    nativeContexts: h.number_of_native_contexts,
    detachedContexts: h.number_of_detached_contexts,
    scavenges: gcCounts.scavenges,
    markCompacts: gcCounts.markCompacts,
  };
}
