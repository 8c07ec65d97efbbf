import type { Worker } from 'node:worker_threads';
import * as native from '@kvmts/native';
import { KvmRunLayout } from '../abi/kvm-run';
import { ControlSlot, clearVcpuStop, requestVcpuStop } from '../cpu/vcpu-control';
import { exitCountsFrom, type ExitCounts } from '../cpu/exit-stats';
import type { CpuStop } from '../cpu/cpu-stop';
import { pmuNotice } from '../timing/pmu';
import { deserializeError } from '../errors/serialize';
import { LifecycleError, UserCallbackError, VcpuThreadError, type KvmtsError } from '../errors/errors';
import type { FromWorker, ToWorker, VcpuWorkerData, WorkerMethod } from './worker-protocol';
import { vcpuWorkerPool } from './vcpu-worker-pool';
import { MainThreadVcpu } from './vcpu-main-thread';

/**
 * Where a vCPU runs: a worker thread of its own running `script` (the default; the thread may
 * come from, and go back to, the process's pool), or the machine's own thread, in slices of
 * `sliceMs` (vcpu-main-thread.ts).
 */
export type VcpuHome = { readonly thread: 'worker'; readonly script: string } | { readonly thread: 'main'; readonly sliceMs?: number };

/** What the controller talks to: a worker thread, or the machine thread's MainThreadVcpu (the same surface). */
interface VcpuChannel {
  readonly threadId: number;
  postMessage(m: ToWorker): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: 'message' | 'error' | 'exit', listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: 'message' | 'error' | 'exit', listener: (...args: any[]) => void): unknown;
  terminate(): Promise<number>;
}

/** How one vCPU's run ended: its CPU's stop, or an error (from the guest, KVM or the thread). */
export type VcpuStop = CpuStop | { readonly reason: 'error'; readonly error: KvmtsError };

/**
 * The main thread's handle on one vCPU running in its own worker thread. Starts and stops
 * its run loop, forwards console output, and answers inspection calls while the vCPU is idle.
 */
export class VcpuController {
  private readonly worker: VcpuChannel;
  /** The worker thread, when the vCPU has one (it goes back to the pool on a clean close). */
  private readonly pooledWorker: Worker | undefined;
  /** The machine thread's host, when the vCPU runs there. */
  private readonly mainThread: MainThreadVcpu | undefined;
  private thread: bigint | undefined;
  private readonly ready: Promise<void>;
  private running: Promise<VcpuStop> | undefined;
  private resolveRun: ((s: VcpuStop) => void) | undefined;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextCallId = 1;
  private readonly runBytes: Uint8Array;
  private readonly control: Int32Array;
  private readonly stats: Float64Array;
  private exited = false;
  /** What a user callback threw during the current run (callbackFailed). */
  private callbackError: UserCallbackError | undefined;
  lastStop: VcpuStop | undefined;

  constructor(
    readonly id: number,
    private readonly home: VcpuHome,
    data: VcpuWorkerData,
    private readonly events: {
      /** Console bytes and their number from the machine's counter (console-order.ts). */
      console(bytes: Uint8Array, seq: number): void;
      /** A line a device of this vCPU's thread set while the machine's lines are forwarded (machine/machine-irq-lines.ts). */
      irqLine?(line: number, level: boolean): void;
    },
  ) {
    this.control = new Int32Array(data.control);
    this.stats = new Float64Array(data.stats);
    this.runBytes = new Uint8Array(native.mappingById(data.handles.runMappingId).view(0, KvmRunLayout.size));
    // A thread from the pool (modules already loaded) or a new one (vcpu-worker-pool.ts), or this one.
    if (home.thread === 'main') this.worker = this.mainThread = new MainThreadVcpu(home.sliceMs);
    else this.worker = this.pooledWorker = vcpuWorkerPool.acquire(home.script);
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => undefined);
    this.worker.on('message', this.onWorkerMessage);
    this.worker.on('error', this.onWorkerError);
    this.worker.on('exit', this.onWorkerExit);
    this.post({ op: 'build', data });
  }

  private settleReady: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** Set while close() waits for the thread to drop this vCPU. */
  private onReleased: (() => void) | undefined;

  private readonly onWorkerMessage = (m: FromWorker): void => {
    if (this.settleReady) {
      if (m.ev === 'ready') {
        this.thread = m.thread;
        this.settleReady.resolve();
        this.settleReady = undefined;
      } else if (m.ev === 'error') {
        this.settleReady.reject(deserializeError(m.error, this.id));
        this.settleReady = undefined;
      }
      return;
    }
    if (m.ev === 'released') {
      this.onReleased?.();
      return;
    }
    this.onMessage(m);
  };

  private readonly onWorkerError = (e: Error): void => {
    const error = new VcpuThreadError(this.id, e.name, e.message);
    this.settleReady?.reject(error);
    this.settleReady = undefined;
    this.finishRun({ reason: 'error', error });
  };

  private readonly onWorkerExit = (): void => {
    this.exited = true;
    this.settleReady?.reject(new VcpuThreadError(this.id, 'exit', 'the vCPU thread exited before it was ready'));
    this.settleReady = undefined;
    this.finishRun({ reason: 'error', error: new VcpuThreadError(this.id, 'exit', 'the vCPU thread exited unexpectedly') });
    for (const p of this.pending.values()) p.reject(new VcpuThreadError(this.id, 'exit', 'the vCPU thread exited'));
    this.pending.clear();
    this.onReleased?.();
  };

  /** The vCPU's thread is up and serves this vCPU (not terminated, not closed). */
  get alive(): boolean {
    return !this.exited;
  }

  /** The vCPU runs on the machine's own thread (VcpuHome 'main'). */
  get onMainThread(): boolean {
    return this.home.thread === 'main';
  }

  /** The worker thread's id (worker_threads' threadId): the same for a thread the pool reused; the machine's own for a vCPU on it. */
  get threadId(): number {
    return this.worker.threadId;
  }

  /** Resolves once the worker has built its CPU and devices (rejects with the build error). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** start() was called and the run has not ended yet. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** The vCPU thread is inside its run loop right now (set and cleared by that thread). */
  get loopActive(): boolean {
    return Atomics.load(this.control, ControlSlot.running) === 1;
  }

  /** Start the run loop; resolves when it stops (power-off, halt, stop request or error). */
  start(maxExits?: number): Promise<VcpuStop> {
    return this.startRun({ op: 'run', maxExits });
  }

  /** Run for `ticks` simulated ticks (reason 'time' when they ran out); see timing/simulated-time.ts. */
  runFor(ticks: bigint): Promise<VcpuStop> {
    pmuNotice(); // here, once per process: the vCPU threads keep quiet
    return this.startRun({ op: 'runFor', ticks });
  }

  /**
   * Run exactly `n` guest instructions (reason 'instructions'); `lastExecuted` then holds how
   * many retired (fewer when another stop came first). See timing/instruction-stops.ts.
   */
  runInstructions(n: number): Promise<VcpuStop> {
    pmuNotice();
    return this.startRun({ op: 'runInstructions', n });
  }

  /** Instructions the last runInstructions retired. */
  lastExecuted = 0;

  /**
   * A drain (CPU switching) asked this vCPU to stay stopped: the machine's run does not resume it
   * after an m5op, whatever the op's handler says, until the next run() (vcpu-switch.ts).
   */
  private holdRequested = false;

  get held(): boolean {
    return this.holdRequested;
  }

  hold(): void {
    this.holdRequested = true;
  }

  /** A new machine run starts: a hold from an earlier drain no longer applies. */
  releaseHold(): void {
    this.holdRequested = false;
  }

  /** The machine kept this held vCPU stopped after an m5op: its run ended as a stop request's does. */
  endHeldRun(stop: CpuStop): void {
    this.lastStop = stop;
  }
  /** What the current run was started as. */
  private runningOp: 'run' | 'runFor' | 'runInstructions' = 'run';

  private startRun(m: Extract<ToWorker, { op: 'run' | 'runFor' | 'runInstructions' }>): Promise<VcpuStop> {
    if (this.running) {
      // Starting a plain run twice is harmless (one run); asking a running vCPU for a timed or
      // counted run would silently get the plain run's stop instead.
      if (m.op === 'run' && this.runningOp === 'run') return this.running;
      throw new LifecycleError(`vCPU ${this.id}`, `running (${this.runningOp})`, m.op);
    }
    if (this.exited) throw new LifecycleError(`vCPU ${this.id}`, 'exited', 'start');
    const failed = this.takeCallbackError();
    if (failed) {
      this.lastStop = failed;
      return Promise.resolve(failed);
    }
    clearVcpuStop(this.control, this.runBytes);
    if (m.op === 'runInstructions') this.lastExecuted = 0;
    this.runningOp = m.op;
    this.running = new Promise((resolve) => (this.resolveRun = resolve));
    this.post(m);
    return this.running;
  }

  /**
   * Kick the vCPU out of KVM_RUN (see vcpu-control.ts for the protocol) and wait until its
   * thread acknowledges. If it does not within `timeoutMs`, the thread is terminated, so a
   * stop never hangs.
   */
  async stop(timeoutMs: number): Promise<VcpuStop | undefined> {
    const run = this.running;
    if (!run) return this.lastStop;
    requestVcpuStop(this.control, this.runBytes, this.thread);
    let timer: NodeJS.Timeout | undefined;
    // Re-kick periodically: a signal that lands while the thread is between KVM_RUN calls is
    // harmless (immediate_exit catches that case) but cheap to repeat.
    const rekick = setInterval(() => {
      if (this.running) requestVcpuStop(this.control, this.runBytes, this.thread);
    }, 50);
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const r = await Promise.race([run, timeout]);
    clearInterval(rekick);
    clearTimeout(timer);
    if (r === 'timeout') {
      // Before terminate(): its 'exit' event would otherwise end the run as an unexplained exit.
      this.finishRun({ reason: 'error', error: new VcpuThreadError(this.id, 'timeout', `did not acknowledge a stop within ${timeoutMs} ms; thread terminated`) });
      await this.worker.terminate();
    }
    return this.lastStop;
  }

  exitCounts(): ExitCounts {
    return exitCountsFrom(this.stats);
  }

  /** Inspection while idle: 'dump', 'threadContext', 'exitCounts', 'kernelStats'. */
  call<T = unknown>(method: WorkerMethod, ...args: unknown[]): Promise<T> {
    if (this.running) return Promise.reject(new LifecycleError(`vCPU ${this.id}`, 'running', `call ${method} (stop it first)`));
    if (this.exited) return Promise.reject(new LifecycleError(`vCPU ${this.id}`, 'exited', `call ${method}`));
    const id = this.nextCallId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ op: 'call', id, method, args });
    });
  }

  /**
   * Stop the vCPU and give its thread back: a thread that stopped cleanly drops the vCPU and
   * returns to the pool for the next machine; one that timed out or failed is terminated.
   */
  async close(): Promise<void> {
    if (this.exited || this.closed) return;
    this.closed = true;
    await this.stop(2000);
    if (this.exited) return;
    const clean = this.settleReady === undefined && this.thread !== undefined && !this.running && this.lastStop?.reason !== 'error';
    if (clean && (await this.releaseThread(2000))) {
      this.detach();
      this.exited = true;
      this.mainThread?.close();
      if (this.pooledWorker !== undefined && this.home.thread === 'worker') vcpuWorkerPool.release(this.home.script, this.pooledWorker);
      return;
    }
    this.detach();
    this.exited = true;
    await this.worker.terminate();
  }

  private closed = false;

  /** Ask the thread to drop this vCPU; false when it did not say so within `timeoutMs`. */
  private releaseThread(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.onReleased = undefined;
        resolve(ok && !this.exited);
      };
      this.onReleased = () => done(true);
      this.post({ op: 'exit' });
    });
  }

  /** This controller's listeners off the thread (it may serve another machine next). */
  private detach(): void {
    this.worker.off('message', this.onWorkerMessage);
    this.worker.off('error', this.onWorkerError);
    this.worker.off('exit', this.onWorkerExit);
    for (const p of this.pending.values()) p.reject(new LifecycleError(`vCPU ${this.id}`, 'closed', 'call'));
    this.pending.clear();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  /**
   * A user callback of this vCPU's events threw: the run ends with that error once the thread has
   * stopped (it is kicked now), never as an uncaught exception on the main thread. Output that
   * arrives while no run is active (flushed after a stop) ends the next run before it starts.
   */
  private callbackFailed(error: UserCallbackError): void {
    this.callbackError ??= error;
    if (this.running) requestVcpuStop(this.control, this.runBytes, this.thread);
  }

  private takeCallbackError(): VcpuStop | undefined {
    const error = this.callbackError;
    this.callbackError = undefined;
    return error && { reason: 'error', error };
  }

  private finishRun(stop: VcpuStop): void {
    if (!this.running) return;
    this.lastStop = stop;
    this.running = undefined;
    const r = this.resolveRun;
    this.resolveRun = undefined;
    r?.(stop);
  }

  private onMessage(m: FromWorker): void {
    switch (m.ev) {
      case 'console':
        try {
          this.events.console(m.bytes, m.seq);
        } catch (e) {
          this.callbackFailed(new UserCallbackError('the console sink', e));
        }
        return;
      case 'irq-line':
        try {
          this.events.irqLine?.(m.line, m.level);
        } catch (e) {
          // Where the line goes (a GIC model) refused it: the vCPU's run reports that, as for a console sink.
          this.callbackFailed(new UserCallbackError(`the controller of the machine's interrupt lines (line 0x${m.line.toString(16)})`, e));
        }
        return;
      case 'stopped':
        if (m.executed !== undefined) this.lastExecuted = m.executed;
        this.finishRun(this.takeCallbackError() ?? m.stop);
        return;
      case 'error':
        this.finishRun(this.takeCallbackError() ?? { reason: 'error', error: deserializeError(m.error, this.id) });
        return;
      case 'result': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (!p) return;
        if (m.error) p.reject(deserializeError(m.error, this.id));
        else p.resolve(m.value);
        return;
      }
    }
  }
}
