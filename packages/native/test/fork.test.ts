import { constants as osConstants } from 'node:os';

import { close, constants, forkProbe, ioctl, open, perfEventOpen, runError, trackedPerfFdCount } from '../src';

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


describe('fork rule: perf counters', () => {
  /** A software task-clock counter (no PMU needed), as perf.test.ts opens it. */
  function openTaskClock(): number {
    const attr = new Uint8Array(128);
    const dv = new DataView(attr.buffer);
    dv.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
    dv.setUint32(4, 128, true);
    dv.setBigUint64(8, 1n, true); // PERF_COUNT_SW_TASK_CLOCK
    dv.setBigUint64(40, 1n, true); // disabled
    return perfEventOpen(attr, 0, -1, -1, 0);
  }

  it('a counter the parent opened is closed in the forked child (gem5 detaches them) and stays open in the parent', () => {
    const before = trackedPerfFdCount();
    const perf = openTaskClock();
    const other = open('/dev/null', constants.O_RDONLY);
    try {
      expect(trackedPerfFdCount()).toBe(before + 1);
      const probe = forkProbe(other, FIOCLEX, undefined, perf);
      expect(probe.watchedFdOpenInChild).toBe(false);
      expect(probe.childCode).toBe('EFORKED');
      // The control: an fd that is not a perf counter is inherited as usual.
      expect(forkProbe(other, FIOCLEX, undefined, other).watchedFdOpenInChild).toBe(true);
      expect(ioctl(perf, FIOCLEX)).toBe(0); // still open here
    } finally {
      close(perf);
      close(other);
    }
    expect(trackedPerfFdCount()).toBe(before);
  });

  it('KVM_RUN failures are SyscallErrors naming KVM_RUN; in a forked child they would carry the guard’s EFORKED wording', () => {
    const e = runError(-osConstants.errno.EBADF);
    expect(e).toMatchObject({ name: 'SyscallError', syscall: 'ioctl', code: 'EBADF', errno: osConstants.errno.EBADF });
    expect(e.message).toMatch(/^kvmts: KVM_RUN failed: /);
    // What every refused call in a child says (the probe's child formats it with the same code).
    expect(forkProbe(-1, FIOCLEX).childMessage).toMatch(/still owns them: this is not supported \(ioctl refused\)$/);
  });
});
