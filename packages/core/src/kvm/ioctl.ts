import * as native from '@kvmts/native';
import { KvmError } from '../errors/errors';

/**
 * The one place a KVM ioctl is issued: failures become KvmError naming the ioctl (`op`), the
 * errno and its code, so no call site has to word its own message.
 */
export function kvmIoctl(fd: number, request: number, op: string, arg?: number | bigint | ArrayBufferView): number {
  try {
    return native.ioctl(fd, request, arg);
  } catch (e) {
    throw toKvmError(op, e);
  }
}

/**
 * How often an ioctl that a signal interrupted is issued again before its EINTR is the answer.
 * KVM_CREATE_VM can fail with EINTR when a signal (a profiler's SIGPROF, a timer) arrives while
 * the kernel takes its locks; the call has then done nothing, and QEMU simply issues it again.
 */
export const EINTR_RETRIES = 100;

/**
 * `call` (one native syscall wrapper) issued again while it fails with EINTR, up to
 * EINTR_RETRIES more times; any other failure, or the last EINTR, is thrown as it came. Only for
 * calls that have no effect when interrupted (KVM_CREATE_VM), never for KVM_RUN, whose EINTR is
 * an answer (a kick) the run loop acts on.
 */
export function retryingInterrupted<T>(call: () => T): T {
  for (let retries = 0; ; retries++) {
    try {
      return call();
    } catch (e) {
      if (!(e instanceof native.SyscallError) || e.code !== 'EINTR' || retries >= EINTR_RETRIES) throw e;
    }
  }
}

/**
 * Run one native call that is not an ioctl (mmap, eventfd, …) so its failure reaches the user as
 * a KvmError naming `op`, never as the native layer's raw SyscallError. `hint` adds what to do for
 * an errno code (ENOMEM from mmap: ask for less memory).
 */
export function nativeCall<T>(op: string, call: () => T, hint?: Readonly<Record<string, string>>): T {
  try {
    return call();
  } catch (e) {
    const code = e instanceof native.SyscallError ? e.code : undefined;
    throw toKvmError(op, e, code !== undefined ? hint?.[code] : undefined);
  }
}

/** Wrap a native SyscallError (or anything thrown by the native layer) as a KvmError for `op`. */
export function toKvmError(op: string, e: unknown, detail?: string): KvmError {
  if (e instanceof native.SyscallError) {
    return new KvmError(op, e.errno, e.code, detail ?? (e.code === 'EFORKED' ? e.message : undefined));
  }
  if (e instanceof KvmError) return e;
  return new KvmError(op, 0, 'EUNKNOWN', detail ?? String(e));
}

/** errno code name for a negative return value from the never-throwing native calls. */
export function errnoCode(negErrno: number): string {
  const errno = -negErrno;
  for (const [name, value] of Object.entries(require('os').constants.errno as Record<string, number>)) {
    if (value === errno) return name;
  }
  return `E${errno}`;
}
