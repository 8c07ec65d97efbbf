/** File descriptors: open/close and ioctl. Every fd is opened O_CLOEXEC. */
import { constants as osConstants } from 'node:os';

import { native, type IoctlArg } from './binding';
import { syscallError } from './errors';

const EPERM = osConstants.errno.EPERM;
const ENXIO = osConstants.errno.ENXIO;

/** Opens `path` with `flags | O_CLOEXEC`; returns the fd. Throws SyscallError. */
export function open(path: string, flags: number): number {
  const fd = native.open(path, flags);
  if (fd < 0) throw syscallError(native, 'open', fd, `open(${JSON.stringify(path)})`);
  return fd;
}

/** Closes `fd`. Throws SyscallError (EBADF for an fd that is not open). */
export function close(fd: number): void {
  const rc = native.close(fd);
  if (rc < 0) throw syscallError(native, 'close', rc, `close(fd ${fd})`);
}

function requestLabel(fd: number, request: number): string {
  return `ioctl(fd ${fd}, 0x${(request >>> 0).toString(16).toUpperCase()})`;
}

/**
 * ioctl(fd, request, arg). `request` is an unsigned 32-bit number; `arg` is passed by value
 * (number, bigint) or as a pointer to the view's bytes (respecting byteOffset); undefined
 * passes 0 and any other type fails with EINVAL. Returns the ioctl's non-negative result;
 * throws SyscallError (syscall 'ioctl', or code 'EFORKED' in a forked child).
 */
export function ioctl(fd: number, request: number, arg?: number | bigint | ArrayBufferView): number {
  const rc = native.ioctl(fd, request, arg as IoctlArg);
  if (rc < 0) throw syscallError(native, 'ioctl', rc, requestLabel(fd, request));
  return rc;
}

/**
 * Like `ioctl` but never throws: returns the result (>= 0) or -errno. In a forked child it
 * returns -EPERM (a number cannot carry the EFORKED message; `ioctl` does). For hot paths
 * and capability probing.
 */
export function ioctlErrno(fd: number, request: number, arg?: number | bigint | ArrayBufferView): number {
  const rc = native.ioctl(fd, request, arg as IoctlArg);
  return rc === native.forkedRc ? -EPERM : rc;
}

/**
 * Sets (or clears) O_NONBLOCK on `fd`'s open file description, shared with every process that
 * holds the same description. Returns whether it was set before. Throws SyscallError.
 */
export function setNonBlocking(fd: number, on: boolean): boolean {
  const rc = native.setNonBlocking(fd, on);
  if (rc < 0) throw syscallError(native, 'fcntl', rc, `fcntl(fd ${fd}, F_SETFL, ${on ? '+' : '-'}O_NONBLOCK)`);
  return rc === 1;
}

/**
 * lseek(fd, offset, whence): the resulting offset, or null for ENXIO (with SEEK_DATA: no data at
 * or after `offset`; with SEEK_HOLE: `offset` is past the end). SEEK_DATA / SEEK_HOLE walk a sparse
 * file's data without reading it. Throws SyscallError for anything else.
 */
export function lseek(fd: number, offset: number, whence: number): number | null {
  const rc = native.lseek(fd, offset, whence);
  if (rc === -ENXIO) return null;
  if (rc < 0) throw syscallError(native, 'lseek', rc, `lseek(fd ${fd}, ${offset}, ${whence})`);
  return rc;
}
