/**
 * The bundled CLI's start-up trace (KVMTS_CODE_CACHE_TRACE=1): one stderr line per step of its
 * loaders in every thread — when the vCPU threads were started, when a thread's Node bootstrap
 * ended, what happened to each bundle's code cache (./code-cache.ts) — each with its time in
 * ms since the process started, so that the threads' lines fall on one time line
 * (scripts/bench/boot-startup.js lays them out).
 *
 * Loads only Node built-ins: dist/bin.js reads it before anything else of the CLI.
 */
import { getEnvironmentData, isMainThread } from 'node:worker_threads';

/** `1`: say on stderr what happened at each step of the start-up, per thread (tests, benchmarks, curious users). */
export const CODE_CACHE_TRACE_ENV = 'KVMTS_CODE_CACHE_TRACE';

/** The environment data key under which dist/bin.js hands the process's time origin (performance.timeOrigin) to its threads. */
export const PROCESS_ORIGIN_KEY = 'kvmts.processTimeOrigin';

/**
 * Ms since the process started, in any thread: a thread's performance clock may start when the
 * thread does (it does in later Node versions), so a thread handed the process's origin
 * counts from that.
 */
export function msSinceProcessStart(): number {
  const origin = isMainThread ? undefined : getEnvironmentData(PROCESS_ORIGIN_KEY);
  return typeof origin === 'number' ? performance.timeOrigin + performance.now() - origin : performance.now();
}

/** Whether `env` asks for the trace. */
export function startupTraced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[CODE_CACHE_TRACE_ENV] === '1';
}

/** Writes `kvmts: start-up: <what> at <ms> ms after the process started` when traced. */
export function traceStartup(what: string, env: NodeJS.ProcessEnv = process.env): void {
  if (startupTraced(env)) process.stderr.write(`kvmts: start-up: ${what} at ${msSinceProcessStart().toFixed(1)} ms after the process started\n`);
}
