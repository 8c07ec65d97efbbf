/**
 * Error types of @kvmts/native. Syscall failures come back from the addon as -errno (see
 * binding.ts); `check` turns them into SyscallError with the errno name and a message the
 * addon formats (the same text forkProbe's child produces).
 */
import { constants as osConstants } from 'node:os';

import type { NativeBinding } from './binding';

/** errno reported for EFORKED: the call was not permitted in this process. */
export const EFORKED_ERRNO = osConstants.errno.EPERM;

export class SyscallError extends Error {
  override readonly name = 'SyscallError';
  /** The syscall that failed: 'open', 'ioctl', 'mmap', 'perf_event_open', ... */
  readonly syscall: string;
  /** Positive errno (EPERM for EFORKED). */
  readonly errno: number;
  /** errno name such as 'EBADF', or 'EFORKED' when the fork guard refused the call. */
  readonly code: string;

  constructor(syscall: string, errno: number, code: string, message: string) {
    super(message);
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

/** A mapping id that is unknown or already unmapped. */
export class MappingGoneError extends Error {
  override readonly name = 'MappingGoneError';
  readonly id: number;

  constructor(id: number) {
    super(`kvmts: mapping ${id} is unknown or already unmapped`);
    this.id = id;
  }
}

/** The compiled addon is missing or does not load. */
export class NativeLoadError extends Error {
  override readonly name = 'NativeLoadError';
}

/**
 * Builds the SyscallError for a negative raw result. `label` names the call in the message
 * (e.g. `open("/dev/kvm")`), `syscall` is the bare name stored on the error.
 */
export function syscallError(binding: NativeBinding, syscall: string, rc: number, label = syscall): SyscallError {
  const [code, message] = binding.describeFailure(label, rc);
  const errno = rc === binding.forkedRc ? EFORKED_ERRNO : -rc;
  return new SyscallError(syscall, errno, code, message);
}
