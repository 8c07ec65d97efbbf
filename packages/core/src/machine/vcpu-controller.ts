import { Worker } from 'node:worker_threads';
import * as native from '@kvmts/native';
import { KvmRunLayout } from '../abi/kvm-run';
import { ControlSlot, clearVcpuStop, requestVcpuStop } from '../cpu/vcpu-control';
import { exitCountsFrom, type ExitCounts } from '../cpu/exit-stats';
import type { CpuStop } from '../cpu/cpu-stop';
import { pmuNotice } from '../timing/pmu';
import { deserializeError } from '../errors/serialize';
import { LifecycleError, UserCallbackError, VcpuThreadError, type KvmtsError } from '../errors/errors';
import type { FromWorker, ToWorker, VcpuWorkerData, WorkerMethod } from './worker-protocol';

/** How one vCPU's run ended: its CPU's stop, or an error (from the guest, KVM or the thread). */
export type VcpuStop = CpuStop | { readonly reason: 'error'; readonly error: KvmtsError };

/**
 * The main thread's handle on one vCPU running in its own worker thread. Starts and stops
 * its run loop, forwards console output, and answers inspection calls while the vCPU is idle.
 */
export class VcpuController {
  private readonly worker: Worker;
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
    workerScript: string,
    data: VcpuWorkerData,
    private readonly events: {
      console(bytes: Uint8Array): void;
    },
  ) {
    this.control = new Int32Array(data.control);
    this.stats = new Float64Array(data.stats);
    this.runBytes = new Uint8Array(native.mappingById(data.handles.runMappingId).view(0, KvmRunLayout.size));
    this.worker = new Worker(workerScript, { workerData: data, stdout: false, stderr: false });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.ev === 'ready') {
          this.thread = m.thread;
          resolve();
        } else if (m.ev === 'error') {
          reject(deserializeError(m.error, id));
        }
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', (e) => reject(new VcpuThreadError(id, e.name, e.message)));
    });
    this.ready.then(
      () => this.worker.on('message', (m: FromWorker) => this.onMessage(m)),
      () => undefined,
    );
    this.worker.on('error', (e) => this.finishRun({ reason: 'error', error: new VcpuThreadError(id, e.name, e.message) }));
    this.worker.on('exit', () => {
      this.exited = true;
      this.finishRun({ reason: 'error', error: new VcpuThreadError(id, 'exit', 'the vCPU thread exited unexpectedly') });
      for (const p of this.pending.values()) p.reject(new VcpuThreadError(id, 'exit', 'the vCPU thread exited'));
      this.pending.clear();
    });
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
      await this.worker.terminate();
      this.finishRun({ reason: 'error', error: new VcpuThreadError(this.id, 'timeout', `did not acknowledge a stop within ${timeoutMs} ms; thread terminated`) });
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

  async close(): Promise<void> {
    if (this.exited) return;
    await this.stop(2000);
    await this.worker.terminate();
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
          this.events.console(m.bytes);
        } catch (e) {
          this.callbackFailed(new UserCallbackError('the console sink', e));
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
