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
