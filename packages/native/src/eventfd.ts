/** eventfd: the notification primitive behind irqfd and ioeventfd. Always EFD_CLOEXEC. */
import { native } from './binding';
import { syscallError } from './errors';

/** eventfd(initval, flags | EFD_CLOEXEC); returns the fd. Throws SyscallError. */
export function eventfd(initval: number, flags: number): number {
  const fd = native.eventfd(initval, flags);
  if (fd < 0) throw syscallError(native, 'eventfd', fd);
  return fd;
}

/** Reads (and resets, or decrements in semaphore mode) the counter. Throws SyscallError. */
export function eventfdRead(fd: number): bigint {
  const value = native.eventfdRead(fd);
  if (typeof value === 'number') throw syscallError(native, 'read', value, `eventfd read(fd ${fd})`);
  return value;
}

/**
 * Reads (and resets) the counter if it is not 0, without blocking even on a blocking eventfd;
 * 0n when nothing was waiting. Throws SyscallError (EBADF for a closed fd).
 */
export function eventfdTryRead(fd: number): bigint {
  const value = native.eventfdTryRead(fd);
  if (typeof value === 'number') throw syscallError(native, 'read', value, `eventfd read(fd ${fd})`);
  return value;
}

/** Adds `value` to the counter. Throws SyscallError. */
export function eventfdWrite(fd: number, value: bigint): void {
  const rc = native.eventfdWrite(fd, value);
  if (rc < 0) throw syscallError(native, 'write', rc, `eventfd write(fd ${fd})`);
}
