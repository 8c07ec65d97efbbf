/**
 * Test support for gem5's fork rule: KVM objects belong to the process that created them,
 * and every guarded call in a fork()ed child fails with EFORKED. forkProbe forks, runs the
 * same guarded ioctl path in the child and reports what the child saw. Perf counters are
 * detached there too (gem5's rule): the addon closes every counter it opened in the child.
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
  /** Whether `watchFd` was still open in the child (false when none was given). */
  readonly watchedFdOpenInChild: boolean;
}

/**
 * Fork; in the child, run ioctl(fd, request, arg) through the guard and check whether
 * `watchFd` (say, a perf counter the parent opened) is still open there.
 */
export function forkProbe(fd: number, request: number, arg?: number, watchFd?: number): ForkProbeResult {
  const out = native.forkProbe(fd, request, arg, watchFd);
  if (typeof out === 'number') throw syscallError(native, 'fork', out, 'forkProbe');
  const [rc, code, message, watchRc] = out;
  return {
    childResult: rc === native.forkedRc ? -osConstants.errno.EPERM : rc,
    childCode: code,
    childMessage: message,
    watchedFdOpenInChild: watchFd !== undefined && watchRc >= 0,
  };
}

/** Perf counters this process has open; gem5's fork rule closes each of them in a forked child. */
export function trackedPerfFdCount(): number {
  return native.trackedPerfFdCount();
}
