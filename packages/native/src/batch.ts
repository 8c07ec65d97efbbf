/**
 * Several ioctls on one fd in one N-API crossing. A crossing costs ~90 ns natively but 12–27 µs
 * when Node runs under TCG (the nested test tier), and a full x86 state sync is ~20 ioctls: the
 * crossings, not the ioctls, were most of its cost there (scripts/bench/README.md, `sync`).
 *
 * The batch runs in order and stops at the first ioctl that fails (-errno) or, where an expected
 * result is given, answers anything else (KVM_GET/SET_MSRS answer how many entries they took), so
 * the caller can tell exactly which one stopped it and why.
 */
import { native, type IoctlArg } from './binding';
import { syscallError, type SyscallError } from './errors';

/** The most ioctls one batch holds (the addon's fixed bound; a full x86 sync is 10 each way). */
export const MAX_IOCTL_BATCH = 64;

/** Expect "any non-negative result". */
export const ANY_RESULT = -1;

export class IoctlBatch {
  /** Request numbers, one per ioctl. */
  readonly requests = new Uint32Array(MAX_IOCTL_BATCH);
  /** The result each ioctl must return to let the batch go on, or ANY_RESULT. */
  readonly expects = new Int32Array(MAX_IOCTL_BATCH);
  /** What each ioctl run returned (its result, or -errno); valid up to where the batch stopped. */
  readonly results = new Float64Array(MAX_IOCTL_BATCH);
  /** The third ioctl argument of each: a word, or a view whose bytes are passed by pointer (fixed length: never resized, so it stays a packed array). */
  readonly args: IoctlArg[] = new Array<IoctlArg>(MAX_IOCTL_BATCH).fill(undefined);
  private n = 0;

  get count(): number {
    return this.n;
  }

  /** Queue ioctl(fd, request, arg); returns its index. Throws RangeError past MAX_IOCTL_BATCH. */
  add(request: number, arg: IoctlArg, expect: number = ANY_RESULT): number {
    if (this.n >= MAX_IOCTL_BATCH) throw new RangeError(`an ioctl batch holds at most ${MAX_IOCTL_BATCH} ioctls`);
    const i = this.n++;
    this.requests[i] = request >>> 0;
    this.expects[i] = expect;
    this.args[i] = arg;
    return i;
  }

  clear(): void {
    // Drop the references (views of state buffers) but keep the array's shape.
    this.args.fill(undefined, 0, this.n);
    this.n = 0;
  }
}

/**
 * Run the batch on `fd`. Returns how many ioctls succeeded: `batch.count` when all did, else the
 * index of the one that stopped it (its result in `batch.results`: -errno, or a count other than
 * the expected one). Throws SyscallError (EINVAL) only for a batch the addon cannot read, before
 * running any ioctl.
 */
export function runIoctlBatch(fd: number, batch: IoctlBatch): number {
  const done = native.ioctlBatch(fd, batch.count, batch.requests, batch.args, batch.expects, batch.results);
  if (done < 0) throw syscallError(native, 'ioctl', done, `ioctl batch (fd ${fd}, ${batch.count} ioctls)`);
  return done;
}

/** The SyscallError for ioctl `index` of a batch that failed there with -errno (EFORKED in a forked child). */
export function ioctlBatchError(fd: number, batch: IoctlBatch, index: number): SyscallError {
  const rc = batch.results[index];
  const request = batch.requests[index];
  return syscallError(native, 'ioctl', rc, `ioctl(fd ${fd}, 0x${request.toString(16).toUpperCase()})`);
}
