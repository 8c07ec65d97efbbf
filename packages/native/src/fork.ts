/**
 * Test support for gem5's fork rule: KVM objects belong to the process that created them,
 * and every guarded call in a fork()ed child fails with EFORKED. forkProbe forks, runs the
 * same guarded ioctl path in the child and reports what the child saw.
 */
import { constants as osConstants } from 'node:os';

import { native } from './binding';
import { syscallError } from './errors';

export interface ForkProbeResult {
  /** What ioctlErrno returned in the child: the result, -errno, or -EPERM when refused. */
  readonly childResult: number;
  /** '' on success, else the errno name or 'EFORKED'. */
  readonly childCode: string;
  /** '' on success, else the message the child's SyscallError would carry. */
  readonly childMessage: string;
}

export function forkProbe(fd: number, request: number, arg?: number): ForkProbeResult {
  const out = native.forkProbe(fd, request, arg);
  if (typeof out === 'number') throw syscallError(native, 'fork', out, 'forkProbe');
  const [rc, code, message] = out;
  return {
    childResult: rc === native.forkedRc ? -osConstants.errno.EPERM : rc,
    childCode: code,
    childMessage: message,
  };
}
