import { constants as osConstants } from 'node:os';

import { SyscallError } from '../../src';

/** Runs `fn`, expects a SyscallError naming `syscall` with errno name `code`, returns it. */
export function expectSyscallError(fn: () => unknown, syscall: string, code: string): SyscallError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SyscallError);
  const error = caught as SyscallError;
  const errno = code === 'EFORKED' ? osConstants.errno.EPERM : (osConstants.errno as Record<string, number>)[code];
  expect({ syscall: error.syscall, code: error.code, errno: error.errno }).toEqual({ syscall, code, errno });
  expect(error.message).toContain(code);
  return error;
}
