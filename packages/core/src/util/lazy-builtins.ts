/**
 * Node built-ins that kvmts needs only for some work (checkpoints, digests, heap figures, the ABI
 * probe, vCPU threads), loaded on first use rather than when a module of core loads.
 *
 * Why: under `--jitless` (the emulated arm64 host) V8 refuses Node's embedded code cache, so
 * every built-in module a thread loads is compiled from source — `node:crypto` alone took 0.27 s
 * of a `kvmts boot`'s start-up, in every thread (scripts/bench/README.md, `boot`). A start that
 * never checkpoints, hashes or probes loads none of these. `require` is cached by Node, so each
 * call after the first is a lookup.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const nodeCrypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');
export const nodeV8 = (): typeof import('node:v8') => require('node:v8') as typeof import('node:v8');
export const nodeZlib = (): typeof import('node:zlib') => require('node:zlib') as typeof import('node:zlib');
export const nodeChildProcess = (): typeof import('node:child_process') => require('node:child_process') as typeof import('node:child_process');
/** perf_hooks: ten of Node's modules (50 ms of start-up in the emulated arm64 host), for heap figures' collection counts only. */
export const nodePerfHooks = (): typeof import('node:perf_hooks') => require('node:perf_hooks') as typeof import('node:perf_hooks');
/**
 * worker_threads brings Node's streams and worker internals (~26 modules, 50 ms of a boot's
 * start-up beyond the streams in the emulated arm64 host): a machine whose vCPUs all run on its
 * own thread needs none of it.
 */
export const nodeWorkerThreads = (): typeof import('node:worker_threads') => require('node:worker_threads') as typeof import('node:worker_threads');
/* eslint-enable @typescript-eslint/no-require-imports */

/** A new SHA-256 hash (node:crypto loaded on first use). */
export function createSha256(): import('node:crypto').Hash {
  return nodeCrypto().createHash('sha256');
}
