/**
 * A run timer: ends a vCPU's run after a host-time budget, from another thread, through the
 * same kick path as a stop request (vcpu-control.ts). A run loop is synchronous, so nothing on
 * its own thread can fire meanwhile; gem5 uses a POSIX timer aimed at the vCPU thread, kvmts a
 * small timer thread (one per timed CPU, started on first use, unref'd).
 *
 * States (Int32 slot 0 shared with the timer thread; slot 1 = the thread has started), each
 * change made by one side only:
 *   IDLE → ARMED (vCPU thread, arm) → IDLE (vCPU thread, disarm: the run ended first)
 *                                   → FIRING (timer thread: the budget elapsed; it sets the
 *                                     stop request and re-kicks until the run loop has returned)
 *                                   → FIRED (timer thread: no more kicks will come)
 * so after disarm() the vCPU thread knows whether the timer ended the run, and no stop request
 * or kick from this timer can reach a later run.
 */
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as native from '@kvmts/native';
import { ControlSlot } from '../cpu/vcpu-control';
import { LifecycleError } from '../errors/errors';
import { nodeWorkerThreads } from '../util/lazy-builtins';

/** How long the first arm() waits for the timer thread to start. */
const TIMER_START_MS = 10_000;

const enum TimerState {
  idle = 0,
  armed = 1,
  firing = 2,
  fired = 3,
  exit = 4,
}

/** The timer thread. Plain JS (eval'd): it only waits, stores and kicks. */
const TIMER_THREAD = `
const { workerData } = require('node:worker_threads');
const native = require(workerData.nativePath);
const s = new Int32Array(workerData.shared, 0, 2);
const delay = new Float64Array(workerData.shared, 8, 1);
const thread = new BigInt64Array(workerData.shared, 16, 1);
const ctl = new Int32Array(workerData.control);
const { ARMED, FIRING, FIRED, EXIT, STOP, RUNNING } = workerData.k;
Atomics.store(s, 1, 1); // ready
Atomics.notify(s, 1);
for (;;) {
  const st = Atomics.load(s, 0);
  if (st === EXIT) break;
  if (st !== ARMED) { Atomics.wait(s, 0, st); continue; }
  // Atomics.wait may return a little early: wait out the rest so a timed run never ends short.
  const end = performance.now() + delay[0];
  let left = delay[0];
  while (left > 0 && Atomics.wait(s, 0, ARMED, left) === 'timed-out') left = end - performance.now();
  if (left > 0 || Atomics.compareExchange(s, 0, ARMED, FIRING) !== ARMED) continue;
  Atomics.store(ctl, STOP, 1);
  // A kick that lands between the run loop's stop check and its KVM_RUN is lost (this thread
  // cannot reach immediate_exit), so kick again until the loop has returned.
  while (Atomics.load(ctl, RUNNING) === 1) {
    native.kickThread(thread[0]);
    Atomics.wait(s, 0, FIRING, 0.2);
  }
  Atomics.store(s, 0, FIRED);
  Atomics.notify(s, 0);
}
`;

export class RunTimer {
  private worker: Worker | undefined;
  private readonly shared = new SharedArrayBuffer(24);
  private readonly state = new Int32Array(this.shared, 0, 2);
  private readonly delay = new Float64Array(this.shared, 8, 1);
  private readonly thread = new BigInt64Array(this.shared, 16, 1);

  /** `control` is the vCPU's control block (its stop and running slots). */
  constructor(private readonly control: Int32Array) {
    if (!(control.buffer instanceof SharedArrayBuffer)) throw new TypeError('kvmts: a run timer needs the vCPU control block on a SharedArrayBuffer (newControlBlock())');
  }

  /**
   * Arm for `ns` host nanoseconds; call on the vCPU's own thread, just before its run loop
   * (that thread becomes the one kicked).
   */
  arm(ns: bigint): void {
    native.installKickHandler();
    this.thread[0] = native.currentThread();
    this.delay[0] = Number(ns) / 1e6;
    this.start();
    Atomics.store(this.state, 0, TimerState.armed);
    Atomics.notify(this.state, 0);
  }

  /**
   * After the run loop returned: stop the timer if it has not fired. Returns true when it did
   * fire: the run's stop request was then the timer's, and the caller withdraws it with the
   * CPU's resume() (which also clears the immediate_exit the run loop left set).
   */
  disarm(): boolean {
    if (Atomics.compareExchange(this.state, 0, TimerState.armed, TimerState.idle) === TimerState.armed) {
      Atomics.notify(this.state, 0);
      return false;
    }
    // It fired: wait until it has stopped kicking, then withdraw its stop request.
    while (Atomics.load(this.state, 0) === TimerState.firing) Atomics.wait(this.state, 0, TimerState.firing, 10);
    Atomics.store(this.state, 0, TimerState.idle);
    return true;
  }

  close(): void {
    if (this.worker === undefined) return;
    Atomics.store(this.state, 0, TimerState.exit);
    Atomics.notify(this.state, 0);
    this.worker = undefined;
  }

  private start(): void {
    if (this.worker !== undefined) return;
    this.worker = new (nodeWorkerThreads().Worker)(TIMER_THREAD, {
      eval: true,
      workerData: {
        nativePath: nativeEntry(),
        shared: this.shared,
        control: this.control.buffer,
        k: { ARMED: TimerState.armed, FIRING: TimerState.firing, FIRED: TimerState.fired, EXIT: TimerState.exit, STOP: ControlSlot.stop, RUNNING: ControlSlot.running },
      },
    });
    this.worker.unref();
    // The vCPU thread is about to block in its run loop, where nothing could notice a timer
    // thread that failed to start: wait for it here, once.
    if (Atomics.wait(this.state, 1, 0, TIMER_START_MS) === 'timed-out') {
      void this.worker.terminate();
      this.worker = undefined;
      throw new LifecycleError('run timer', `not started within ${TIMER_START_MS} ms`, 'time a run');
    }
  }
}

/**
 * @kvmts/native's compiled entry, for the timer thread to require. Resolved through its
 * package.json so that a test runner mapping '@kvmts/native' to its TypeScript sources still
 * gives the thread plain JS.
 */
function nativeEntry(): string {
  const manifest = require.resolve('@kvmts/native/package.json');
  return path.join(path.dirname(manifest), (require(manifest) as { main: string }).main);
}
