/**
 * A vCPU on the machine's own thread: the VcpuHost a worker thread would run (vcpu-host.ts),
 * behind the same message channel the machine's VcpuController talks to a worker through.
 *
 * Why: a worker thread is a second V8 isolate — Node's worker bootstrap, the modules loaded a
 * second time, a second heap. Where the host CPU is slow (an emulated one: seconds) or the
 * process is short-lived (a one-vCPU boot from the command line, a warm restore), that is most
 * of kvmts' own cost. A one-vCPU machine needs no second thread to be responsive: its run goes
 * in slices (a native slice timer stops the vCPU every `sliceMs`), and the event loop turns
 * between them, so the machine's timers, console output, stop() and signals are served. What
 * the event loop cannot do is run during a slice: a slice holds it (20 ms by default), and so
 * does a runFor or runInstructions request, which is not sliced.
 *
 * Messages keep a worker's semantics: each one is a structured clone (what postMessage sends),
 * delivered asynchronously (a microtask), in order. Nothing the machine or the vCPU keeps is
 * shared by reference except SharedArrayBuffers, as with a worker.
 */
import { EventEmitter } from 'node:events';
import * as native from '@kvmts/native';
import type { FromWorker, ToWorker } from './worker-protocol';
import { VcpuHost } from './vcpu-host';
import { nodeWorkerThreads } from '../util/lazy-builtins';

/** A slice's default length: long enough that a slice's end (a KVM_RUN completing I/O, one turn of the event loop) costs well under 1 % of it. */
export const DEFAULT_SLICE_MS = 20;

export class MainThreadVcpu extends EventEmitter {
  /** The thread it runs on: the machine's (worker_threads loaded only when asked: see lazy-builtins). */
  get threadId(): number {
    return nodeWorkerThreads().threadId;
  }
  private readonly timer = new native.SliceTimer();
  private readonly host: VcpuHost;
  private ended = false;

  constructor(sliceMs: number = DEFAULT_SLICE_MS) {
    super();
    this.host = new VcpuHost((m) => this.deliver(m), { slicing: { timer: this.timer, sliceNs: Math.round(sliceMs * 1e6) } });
  }

  postMessage(m: ToWorker): void {
    if (this.ended) return;
    const copy = structuredClone(m);
    queueMicrotask(() => {
      if (!this.ended) this.host.handle(copy);
    });
  }

  /**
   * Ends it as terminating a worker does: no message is handled or delivered any more (a run in
   * progress ends at its current slice), the timer's thread ends, and 'exit' follows.
   */
  terminate(): Promise<number> {
    if (!this.ended) {
      this.close();
      setImmediate(() => this.emit('exit', 1));
    }
    return Promise.resolve(1);
  }

  /** After the host released its vCPU: the timer's thread ends; nothing is delivered any more. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.host.abandon();
    this.timer.close();
  }

  private deliver(m: FromWorker): void {
    const copy = structuredClone(m);
    queueMicrotask(() => {
      if (!this.ended) this.emit('message', copy);
    });
  }
}
