import { constants as osConstants } from 'node:os';

import { close, constants, eventfd, eventfdRead, eventfdTryRead, eventfdWrite } from '../src';
import { expectSyscallError } from './support/errors';

describe('eventfd', () => {
  it('adds written values and read returns and resets the counter', () => {
    const fd = eventfd(3, 0);
    try {
      eventfdWrite(fd, 5n);
      eventfdWrite(fd, 0xffff_ffffn);
      expect(eventfdRead(fd)).toBe(3n + 5n + 0xffff_ffffn);
    } finally {
      close(fd);
    }
  });

  it('semaphore mode reads 1 per call and a drained non-blocking fd gives EAGAIN', () => {
    const fd = eventfd(2, constants.EFD_SEMAPHORE | constants.EFD_NONBLOCK);
    try {
      expect(eventfdRead(fd)).toBe(1n);
      expect(eventfdRead(fd)).toBe(1n);
      const error = expectSyscallError(() => eventfdRead(fd), 'read', 'EAGAIN');
      expect(error.errno).toBe(osConstants.errno.EAGAIN);
    } finally {
      close(fd);
    }
  });

  it('tryRead never blocks on a blocking eventfd: 0n when the counter is 0, else the counter (reset)', () => {
    const fd = eventfd(0, 0); // blocking: a plain read here would hang the thread
    try {
      expect(eventfdTryRead(fd)).toBe(0n);
      eventfdWrite(fd, 2n);
      eventfdWrite(fd, 5n);
      expect(eventfdTryRead(fd)).toBe(7n);
      expect(eventfdTryRead(fd)).toBe(0n);
    } finally {
      close(fd);
    }
    expectSyscallError(() => eventfdTryRead(fd), 'read', 'EBADF'); // closed
  });

  it('read and write on fd -1 throw EBADF', () => {
    expectSyscallError(() => eventfdRead(-1), 'read', 'EBADF');
    expectSyscallError(() => eventfdWrite(-1, 1n), 'write', 'EBADF');
  });

  it('rejects invalid flags with EINVAL naming eventfd', () => {
    expectSyscallError(() => eventfd(0, 0x7fff_0000), 'eventfd', 'EINVAL');
  });
});
