import { constants as osConstants } from 'node:os';

import { close, constants, forkProbe, ioctl, open } from '../src';

/** asm-generic/ioctls.h: FIOCLEX takes no argument and works on any fd. */
const FIOCLEX = 0x5451;

describe('fork rule', () => {
  it('the child of a fork fails with EFORKED while the parent keeps working', () => {
    const fd = open('/dev/null', constants.O_RDONLY);
    try {
      expect(ioctl(fd, FIOCLEX)).toBe(0);
      const probe = forkProbe(fd, FIOCLEX);
      expect(probe.childCode).toBe('EFORKED');
      expect(probe.childResult).toBe(-osConstants.errno.EPERM);
      expect(probe.childMessage).toMatch(
        new RegExp(
          `^kvmts: KVM objects cannot be used in a forked child process \\(pid \\d+\\); the parent \\(pid ${process.pid}\\) still owns them`,
        ),
      );
      expect(probe.childMessage).not.toContain(`(pid ${process.pid});`);
      expect(ioctl(fd, FIOCLEX)).toBe(0);
    } finally {
      close(fd);
    }
  });

  it('the guard refuses before touching the kernel (even a bad fd reports EFORKED)', () => {
    expect(forkProbe(-1, FIOCLEX).childCode).toBe('EFORKED');
  });
});

