/**
 * How X86StateSync issues its ioctls: one at a time, or — for a full pull or push — queued and
 * run as one batch (@kvmts/native runIoctlBatch: one N-API crossing for ~10 ioctls). Each
 * queued ioctl carries its name and what to do with its result, run in order once the batch
 * has run, so a group's bookkeeping (valid bits, MSR counts, the TSC rule) is the same either
 * way. Steps with no ioctl (a group this KVM lacks) are queued too, to keep that order.
 */
import { KvmError } from '@kvmts/core';
import { ANY_RESULT, IoctlBatch } from '@kvmts/native';

// Read once: the compiled re-exports of @kvmts/native are getters, dear on a per-ioctl path.
const ANY = ANY_RESULT;

/** One ioctl on this vCPU's fd; throws KvmError naming `op` (kvmIoctl). */
export type VcpuIoctl = (request: number, op: string, arg?: number | ArrayBufferView) => number;

/** Runs a batch on the vCPU fd (runIoctlBatch) and names a failure. */
export interface VcpuIoctlBatchPort {
  /** batch.count when every ioctl succeeded, else the index of the one that stopped it (results filled). ops[i] names ioctl i (i < batch.count; entries past it are stale). */
  run(batch: IoctlBatch, ops: readonly string[]): number;
  /** The KvmError for ioctl `index`, which failed with -errno (batch.results[index]), naming `op`. */
  error(batch: IoctlBatch, index: number, op: string): Error;
}

/** A queued step's follow-up, given the ioctl's result (0 for a step without an ioctl). */
export type AfterIoctl = (result: number) => void;

/** Where a flushed queue stopped: the step, its ioctl's name, the caller's tag and the error to throw. */
export interface QueueFailure {
  readonly step: number;
  readonly op: string;
  readonly tag: string;
  readonly error: Error;
}

export class StateIoQueue {
  private readonly batch = new IoctlBatch();
  private readonly ops: string[] = [];
  // Per step, in parallel arrays (no object per step: a full sync queues ten every time):
  // its index in the batch (-1: no ioctl), its follow-up, and the caller's tag (a group name).
  private readonly stepIndex: number[] = [];
  private readonly stepAfter: (AfterIoctl | undefined)[] = [];
  private readonly stepTag: string[] = [];
  private steps = 0;
  private queuing = false;

  constructor(
    private readonly ioctl: VcpuIoctl,
    private port: VcpuIoctlBatchPort | undefined,
  ) {}

  /** Batch through `port` from now on, or not at all (undefined). Only between syncs. */
  usePort(port: VcpuIoctlBatchPort | undefined): void {
    if (this.queuing) throw new Error('StateIoQueue.usePort during a batch');
    this.port = port;
  }

  /** Whether begin() batches (a port is in use). */
  get batching(): boolean {
    return this.port !== undefined;
  }

  /** Queue from now until flush() (when batching); returns whether it does. */
  begin(): boolean {
    if (this.port === undefined) return false;
    this.batch.clear();
    this.steps = 0;
    this.queuing = true;
    return true;
  }

  /** ioctl now (then `after(result)`), or queued. `expect` ≥ 0 stops a batch at any other result. */
  call(tag: string, request: number, op: string, arg: number | ArrayBufferView | undefined, after?: AfterIoctl, expect: number = ANY): void {
    if (!this.queuing) {
      const r = this.ioctl(request, op, arg);
      if (after !== undefined) after(r);
      return;
    }
    const index = this.batch.add(request, arg, expect);
    this.ops[index] = op;
    this.step(index, after, tag);
  }

  /** `after(0)` now, or in order after the queued ioctls before it. */
  then(tag: string, after: AfterIoctl): void {
    if (!this.queuing) after(0);
    else this.step(-1, after, tag);
  }

  /**
   * Run what was queued in one crossing, then each step's follow-up in order up to where the
   * batch stopped. Returns undefined when all ran, else the failure: the step that stopped it
   * and the error to throw (a follow-up that throws for an unexpected result — KVM_SET_MSRS
   * refusing one — throws from here, as it would have one at a time).
   */
  flush(): QueueFailure | undefined {
    this.queuing = false;
    const n = this.batch.count;
    const done = n === 0 ? 0 : this.port!.run(this.batch, this.ops);
    const results = this.batch.results;
    for (let s = 0; s < this.steps; s++) {
      const index = this.stepIndex[s];
      const after = this.stepAfter[s];
      if (index < done) {
        if (after !== undefined) after(index < 0 ? 0 : results[index]);
        continue;
      }
      const op = this.ops[index];
      const result = results[index];
      if (result < 0) return { step: s, op, tag: this.stepTag[s], error: this.port!.error(this.batch, index, op) };
      // A count other than the one expected: its follow-up names what KVM refused (and throws).
      if (after !== undefined) after(result);
      return { step: s, op, tag: this.stepTag[s], error: new KvmError(op, 0, 'EPARTIAL', `returned ${result}, expected ${this.batch.expects[index]}`) };
    }
    return undefined;
  }

  private step(index: number, after: AfterIoctl | undefined, tag: string): void {
    const s = this.steps++;
    this.stepIndex[s] = index;
    this.stepAfter[s] = after;
    this.stepTag[s] = tag;
  }
}
