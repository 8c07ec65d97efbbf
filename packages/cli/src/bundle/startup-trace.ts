/**
 * The bundled CLI's start-up trace (KVMTS_CODE_CACHE_TRACE=1): one stderr line per step of its
 * loaders in every thread — when the vCPU threads were started, when a thread's Node bootstrap
 * ended, what happened to each bundle's code cache (./code-cache.ts) — each with its time in
 * ms since the process started, so that the threads' lines fall on one time line
 * (scripts/bench/boot-startup.js lays them out).
 *
 * Loads only Node built-ins: dist/bin.js reads it before anything else of the CLI.
 */
/** `1`: say on stderr what happened at each step of the start-up, per thread (tests, benchmarks, curious users). */
export const CODE_CACHE_TRACE_ENV = 'KVMTS_CODE_CACHE_TRACE';

/**
 * Ms since the process started, in any thread: process.uptime() counts from Node's start in
 * every thread (a thread's `performance` clock may start with the thread, as it does in later
 * Node versions), and needs no module — the `performance` global loads ten of Node's (43 ms of
 * start-up in the emulated arm64 host, scripts/bench/README.md, `boot`). Its origin is Node's
 * own start, ~1 ms after `performance.timeOrigin`.
 */
export function msSinceProcessStart(): number {
  return process.uptime() * 1000;
}

/** Whether `env` asks for the trace. */
export function startupTraced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[CODE_CACHE_TRACE_ENV] === '1';
}

/** Writes `kvmts: start-up: <what> at <ms> ms after the process started` when traced. */
export function traceStartup(what: string, env: NodeJS.ProcessEnv = process.env): void {
  if (startupTraced(env)) process.stderr.write(`kvmts: start-up: ${what} at ${msSinceProcessStart().toFixed(1)} ms after the process started\n`);
}
