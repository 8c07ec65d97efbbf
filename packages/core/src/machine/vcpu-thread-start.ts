/**
 * Starting vCPU threads before core itself has loaded, and the settings every vCPU thread
 * starts with.
 *
 * Why: a vCPU thread's start is mostly Node's own worker bootstrap (its isolate, and Node's
 * built-in modules compiled from source under `--jitless`, which refuses Node's embedded code
 * cache): seconds under an emulated CPU (scripts/bench/README.md, `boot`). A program that knows
 * at its first line that it will build a machine (the kvmts CLI's `boot`) starts its threads
 * here, before it reads and compiles its own modules, so that the two load side by side. Core's
 * thread pool (vcpu-worker-pool.ts) adopts them, idle, when the machine asks for threads.
 *
 * This module loads no other module of core but gc-flag-lock.ts and util/lazy-builtins.ts (only
 * `node:worker_threads`, when a thread starts): it is the one part
 * of core a program loads before core, as `@kvmts/core/vcpu-thread-start`. The pool and
 * vcpu-thread-limits.ts take their settings from here, so an early thread is started exactly
 * as the pool would start it.
 */
import type { ResourceLimits, Worker, WorkerOptions } from 'node:worker_threads';
import { shareGcFlagLock } from './gc-flag-lock';
import { nodeWorkerThreads } from '../util/lazy-builtins';

/** Idle threads kept by default: enough for the usual 1–4 vCPU machines. */
export const DEFAULT_VCPU_POOL_SIZE = 4;
/** The environment variable that sets the pool size at start-up (e.g. 0 to turn reuse off). */
export const VCPU_POOL_ENV = 'KVMTS_VCPU_POOL';
/** The largest pool size accepted. */
export const MAX_VCPU_POOL_SIZE = 256;

/** The environment variable that caps a vCPU thread's young generation, in MiB; 0 leaves V8's default. */
export const VCPU_YOUNG_GENERATION_ENV = 'KVMTS_VCPU_YOUNG_GEN_MB';
/** The default cap on a vCPU thread's young generation, MiB (vcpu-thread-limits.ts says why). */
export const DEFAULT_VCPU_YOUNG_GENERATION_MB = 4;
/** The largest cap accepted (V8's own default maximum is below it). */
export const MAX_YOUNG_GENERATION_MB = 1024;

/** A whole number in [0, max] from an environment value, `fallback` when unset or empty, undefined when malformed. */
function wholeSetting(raw: string | undefined, fallback: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
}

/** The pool size KVMTS_VCPU_POOL asks for in `env` (default 4); undefined when it is malformed (the pool reports that). */
export function vcpuPoolSizeSetting(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return wholeSetting(env[VCPU_POOL_ENV], DEFAULT_VCPU_POOL_SIZE, MAX_VCPU_POOL_SIZE);
}

/** The young-generation cap KVMTS_VCPU_YOUNG_GEN_MB asks for in `env` (default 4, 0 = none); undefined when malformed. */
export function vcpuYoungGenerationSetting(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return wholeSetting(env[VCPU_YOUNG_GENERATION_ENV], DEFAULT_VCPU_YOUNG_GENERATION_MB, MAX_YOUNG_GENERATION_MB);
}

/** The resourceLimits of a thread under a young-generation cap of `mb` MiB (0: V8's defaults, none). */
export function resourceLimitsFor(mb: number): ResourceLimits | undefined {
  return mb === 0 ? undefined : { maxYoungGenerationSizeMb: mb };
}

/**
 * The Worker options of every vCPU thread: its console output goes to the process's own
 * stdout/stderr (a vCPU thread writes none in normal operation; the guest console is posted as
 * messages), and its V8 limits.
 */
export function vcpuThreadOptions(limits: ResourceLimits | undefined): WorkerOptions {
  return { stdout: false, stderr: false, ...(limits ? { resourceLimits: limits } : {}) };
}

/** A thread started here, until the pool adopts it. */
interface EarlyThread {
  readonly script: string;
  readonly worker: Worker;
  /** It failed or ended before it was adopted: the pool drops it. */
  gone: boolean;
  /** Detaches this module's listeners. */
  readonly detach: () => void;
}

/**
 * Where early threads wait for the pool: one slot per thread (JavaScript realm) of the process,
 * under a registered symbol, because the program that starts them and the core that adopts them
 * may be separate copies of this module (the CLI's loader loads it from the package; its bundle
 * carries its own core).
 */
const EARLY_THREADS = Symbol.for('kvmts.core.earlyVcpuThreads');

function earlyThreads(): EarlyThread[] {
  const g = globalThis as unknown as Record<symbol, EarlyThread[] | undefined>;
  return (g[EARLY_THREADS] ??= []);
}

/**
 * One vCPU thread running `script`, as the pool and the early start make them: the settings
 * below, and the process's flag lock shared with it (gc-flag-lock.ts).
 */
export function startVcpuThread(script: string, limits: ResourceLimits | undefined): Worker {
  shareGcFlagLock();
  return new (nodeWorkerThreads().Worker)(script, vcpuThreadOptions(limits));
}

/**
 * Starts `count` vCPU threads running `script` now, for core's pool to adopt (at most the pool's
 * size). They wait unref'd (a program that ends first just ends) and must not fail loudly while
 * nobody listens: one that fails or exits before it is adopted is dropped, and the pool starts
 * a new one, which reports the failure where the machine is built. A malformed
 * KVMTS_VCPU_POOL or KVMTS_VCPU_YOUNG_GEN_MB starts none: the machine's set-up names it.
 * Returns how many were started.
 */
export function startEarlyVcpuThreads(script: string, count: number, env: NodeJS.ProcessEnv = process.env): number {
  const size = vcpuPoolSizeSetting(env);
  const youngMb = vcpuYoungGenerationSetting(env);
  if (size === undefined || youngMb === undefined || !Number.isInteger(count) || count <= 0) return 0;
  const list = earlyThreads();
  const n = Math.max(0, Math.min(count, size - list.length));
  for (let i = 0; i < n; i++) {
    const worker = startVcpuThread(script, resourceLimitsFor(youngMb));
    worker.unref();
    const thread: EarlyThread = {
      script,
      worker,
      gone: false,
      detach: () => {
        worker.off('error', onGone);
        worker.off('exit', onGone);
      },
    };
    function onGone(): void {
      thread.gone = true;
    }
    worker.once('error', onGone);
    worker.once('exit', onGone);
    list.push(thread);
  }
  return n;
}

/**
 * Hands over the early threads running `script` that are still alive (each without this
 * module's listeners, still unref'd; the taker bounds how many it keeps). Threads of another
 * script stay for their own taker. Without `script`, every early thread (the pool ends them when
 * told to close or shrink: one whose script never matched would otherwise live to the end).
 * `limit` hands over at most that many, the newest first.
 */
export function takeEarlyVcpuThreads(script?: string, limit = Infinity): Worker[] {
  const list = earlyThreads();
  const matching = list.filter((t) => script === undefined || t.script === script);
  const mine = matching.slice(Math.max(0, matching.length - Math.max(0, limit)));
  if (mine.length === 0) return [];
  list.splice(0, list.length, ...list.filter((t) => !mine.includes(t)));
  for (const t of mine) t.detach();
  return mine.filter((t) => !t.gone).map((t) => t.worker);
}

/** Early threads not yet adopted (tests; a program that wants to know); with `alive`, only those that have not ended. */
export function earlyVcpuThreadCount(options: { readonly alive?: boolean } = {}): number {
  const list = earlyThreads();
  return options.alive === true ? list.filter((t) => !t.gone).length : list.length;
}
