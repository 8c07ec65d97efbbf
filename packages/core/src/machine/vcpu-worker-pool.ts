/**
 * Idle vCPU worker threads, kept for the next machine of this process.
 *
 * Starting a vCPU thread is dominated by loading modules into its fresh isolate (core, the
 * native addon, the arch plugin): tens of milliseconds on a real machine, seconds on an
 * emulated one. The module cache survives in a thread that has finished serving a machine, so
 * a closed machine hands its threads back here and the next `createMachine` builds its vCPUs
 * in them at once — the way a VMM keeps its vCPU threads up to restore a snapshot quickly.
 *
 * A thread only comes back clean: its machine was closed with the vCPU stopped and the thread
 * confirmed that it dropped the CPU and devices it built (a thread that timed out, failed or
 * was terminated is never reused). Idle threads are unref'd, so they never keep the process
 * alive, and at most `size` are kept (the rest end). `size` 0 turns reuse off.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { vcpuThreadResourceLimits } from './vcpu-thread-limits';
import { MAX_VCPU_POOL_SIZE, VCPU_POOL_ENV, earlyVcpuThreadCount, startVcpuThread, takeEarlyVcpuThreads, vcpuPoolSizeSetting } from './vcpu-thread-start';

export { DEFAULT_VCPU_POOL_SIZE, VCPU_POOL_ENV } from './vcpu-thread-start';

/** The script set by useVcpuWorkerScript(), if any. */
let scriptOverride: string | undefined;

/**
 * Run this process's vCPU threads from `script` instead of core's own worker (undefined: back
 * to core's). For a program bundled into one file (the kvmts CLI): its vCPU threads must load
 * the matching bundled worker, which runs core's worker entry with the bundle's module copies,
 * instead of loading core and the arch plugin again file by file. Library users never need it.
 */
export function useVcpuWorkerScript(script: string | undefined): void {
  if (script !== undefined && (!path.isAbsolute(script) || !fs.existsSync(script))) {
    throw new ConfigError('vcpuWorkerScript', `must be the absolute path of an existing worker script, got ${describeValue(script)}`);
  }
  scriptOverride = script;
}

/** The worker script: useVcpuWorkerScript()'s, else the compiled one in dist/machine next to this file (in dist/ when running from src/: tests). */
export function vcpuWorkerScript(): string {
  if (scriptOverride !== undefined) return scriptOverride;
  const here = __filename.endsWith('.ts') ? path.join(__dirname, '..', '..', 'dist', 'machine') : __dirname;
  const script = path.join(here, 'vcpu-worker.js');
  if (!fs.existsSync(script)) throw new ConfigError('core', `vCPU worker script ${script} is missing: run \`npm run build\` first`);
  return script;
}

function sizeFromEnv(): number {
  const n = vcpuPoolSizeSetting(process.env);
  if (n === undefined) {
    throw new ConfigError(VCPU_POOL_ENV, `must be a whole number of idle vCPU threads to keep, 0–${MAX_VCPU_POOL_SIZE}, got ${describeValue(process.env[VCPU_POOL_ENV])}`);
  }
  return n;
}

export class VcpuWorkerPool {
  private readonly idle = new Map<string, Worker[]>();
  private size: number | undefined;

  /** How many idle threads are kept (per process; read from KVMTS_VCPU_POOL on first use). */
  get capacity(): number {
    this.size ??= sizeFromEnv();
    return this.size;
  }

  /** Keep at most `n` idle threads from now on (0: none); extra idle threads end now. */
  setCapacity(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > MAX_VCPU_POOL_SIZE) throw new ConfigError('vcpuPoolSize', `must be a whole number 0–${MAX_VCPU_POOL_SIZE}, got ${describeValue(n)}`);
    this.size = n;
    // Early threads not yet adopted count against the new size too: the newest beyond it end.
    for (const early of takeEarlyVcpuThreads(undefined, earlyVcpuThreadCount() - Math.max(0, n - this.idleCount))) void early.terminate();
    let excess = this.idleCount - n;
    for (const list of this.idle.values()) {
      while (excess > 0 && list.length > 0) {
        void list.pop()!.terminate();
        excess--;
      }
    }
  }

  /** Idle threads right now. */
  get idleCount(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** An idle thread running `script`, or a new one; it is ref'd (it keeps the process alive while it serves). */
  acquire(script: string): Worker {
    this.adoptEarly(script);
    const idle = this.idle.get(script)?.pop();
    if (idle) {
      idleListeners.get(idle)?.();
      idleListeners.delete(idle);
    }
    const worker = idle ?? this.spawn(script);
    worker.ref();
    return worker;
  }

  /**
   * Start threads for `script` ahead of need, up to `count` idle ones (bounded by the capacity),
   * so that their modules load while the caller does other work (e.g. sets up the VM).
   */
  prewarm(script: string, count: number): void {
    this.adoptEarly(script);
    const list = this.listFor(script);
    while (list.length < count && this.idleCount < this.capacity) list.push(this.idleWorker(this.spawn(script), script));
  }

  /** Take back a thread that has dropped everything of its last machine; ends it when the pool is full. */
  release(script: string, worker: Worker): void {
    if (this.idleCount >= this.capacity) {
      void worker.terminate();
      return;
    }
    this.listFor(script).push(this.idleWorker(worker, script));
  }

  /** End every idle thread (e.g. before counting the process's threads). */
  async closeIdle(): Promise<void> {
    // Early threads never adopted (started for a script no machine used) end with the idle ones.
    const all = [...this.idle.values()].flat().concat(takeEarlyVcpuThreads());
    this.idle.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private spawn(script: string): Worker {
    return startVcpuThread(script, vcpuThreadResourceLimits());
  }

  /**
   * Takes in the threads a program started for `script` before core loaded
   * (startEarlyVcpuThreads, vcpu-thread-start.ts) as idle ones; beyond the capacity they end.
   */
  private adoptEarly(script: string): void {
    for (const worker of takeEarlyVcpuThreads(script)) {
      if (this.idleCount < this.capacity) this.listFor(script).push(this.idleWorker(worker, script));
      else void worker.terminate();
    }
  }

  private listFor(script: string): Worker[] {
    let list = this.idle.get(script);
    if (!list) this.idle.set(script, (list = []));
    return list;
  }

  /** Unref'd while idle; an idle thread that dies (or fails to load) just leaves the pool. */
  private idleWorker(worker: Worker, script: string): Worker {
    worker.unref();
    const drop = (): void => {
      const list = this.idle.get(script);
      const i = list?.indexOf(worker) ?? -1;
      if (i >= 0) list!.splice(i, 1);
    };
    // Listeners of the idle period only: acquire() hands the thread on without them.
    const onError = (): void => drop();
    worker.once('error', onError);
    worker.once('exit', drop);
    idleListeners.set(worker, () => {
      worker.off('error', onError);
      worker.off('exit', drop);
    });
    return worker;
  }
}

/** How to detach an idle thread's pool listeners when it is handed out. */
const idleListeners = new WeakMap<Worker, () => void>();

/** The process's pool (vCPU threads are a process resource). */
export const vcpuWorkerPool = new VcpuWorkerPool();

/** Keep at most `n` idle vCPU threads for later machines (default 4, or KVMTS_VCPU_POOL); 0 turns reuse off. */
export function setVcpuThreadPoolSize(n: number): void {
  vcpuWorkerPool.setCapacity(n);
}

/** Start `n` vCPU threads now (bounded by the pool size), so that the next createMachine or restore finds them loaded. */
export function prewarmVcpuThreads(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ConfigError('prewarmVcpuThreads', `expects a whole number of threads, got ${describeValue(n)}`);
  vcpuWorkerPool.prewarm(vcpuWorkerScript(), n);
}

/** End the idle vCPU threads (those a closed machine left for reuse). */
export function closeIdleVcpuThreads(): Promise<void> {
  return vcpuWorkerPool.closeIdle();
}

/** vCPU threads waiting for a machine right now. */
export function idleVcpuThreadCount(): number {
  return vcpuWorkerPool.idleCount;
}
