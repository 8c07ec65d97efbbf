import * as fs from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import * as path from 'node:path';

import { SyscallError, close, constants, eventfd, ioctl, ioctlErrno, open, run } from '../src';
import { expectSyscallError } from './support/errors';
import { fdFlags } from './support/proc';

const { EBADF, EINVAL } = osConstants.errno;
/** asm-generic/ioctls.h */
const FIONREAD = 0x541b;
const FIOCLEX = 0x5451;

describe('constants', () => {
  it('match the Linux x86-64 header values', () => {
    expect(constants).toEqual({
      O_RDONLY: 0,
      O_RDWR: 2,
      O_CLOEXEC: 0o2000000,
      O_NONBLOCK: 0o4000,
      PROT_NONE: 0,
      PROT_READ: 1,
      PROT_WRITE: 2,
      PROT_EXEC: 4,
      MAP_SHARED: 1,
      MAP_PRIVATE: 2,
      MAP_ANONYMOUS: 0x20,
      MAP_NORESERVE: 0x4000,
      EFD_CLOEXEC: 0o2000000,
      EFD_NONBLOCK: 0o4000,
      EFD_SEMAPHORE: 1,
      SEEK_DATA: 3,
      SEEK_HOLE: 4,
    });
    expect(constants.O_RDWR).toBe(fs.constants.O_RDWR);
    expect(constants.O_NONBLOCK).toBe(fs.constants.O_NONBLOCK);
  });
});

describe('open / close', () => {
  it('opens with O_CLOEXEC added and closes', () => {
    const fd = open('/dev/null', constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const flags = fdFlags(fd);
      expect(flags & constants.O_CLOEXEC).toBe(constants.O_CLOEXEC);
      expect(flags & constants.O_NONBLOCK).toBe(constants.O_NONBLOCK);
      expect(flags & 3).toBe(constants.O_RDWR);
    } finally {
      close(fd);
    }
    expect(fs.existsSync(`/proc/self/fd/${fd}`)).toBe(false);
  });

  it('throws ENOENT naming open and the path for a missing file', () => {
    const error = expectSyscallError(() => open('/nonexistent/kvmts-missing', constants.O_RDONLY), 'open', 'ENOENT');
    expect(error.message).toContain('/nonexistent/kvmts-missing');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SyscallError');
  });

  it('close(-1) throws EBADF naming close', () => {
    expectSyscallError(() => close(-1), 'close', 'EBADF');
  });
});

describe('ioctl', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'kvmts-native-'));
    file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(1234, 0xab));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('throws EBADF naming ioctl and the request for fd -1', () => {
    const error = expectSyscallError(() => ioctl(-1, FIOCLEX), 'ioctl', 'EBADF');
    expect(error.message).toContain('0x5451');
  });

  it('ioctlErrno returns -errno instead of throwing', () => {
    expect(ioctlErrno(-1, FIOCLEX)).toBe(-EBADF);
    expect(ioctlErrno(-1, FIONREAD, new Int32Array(1))).toBe(-EBADF);
  });

  it('passes a typed array by pointer, honouring byteOffset (FIONREAD on a regular file)', () => {
    const fd = open(file, constants.O_RDONLY);
    try {
      const backing = new ArrayBuffer(16);
      const out = new Int32Array(backing, 8, 1);
      expect(ioctl(fd, FIONREAD, out)).toBe(0);
      expect(Array.from(new Int32Array(backing))).toEqual([0, 0, 1234, 0]);
    } finally {
      close(fd);
    }
  });

  it('passes a DataView by pointer, honouring byteOffset', () => {
    const fd = open(file, constants.O_RDONLY);
    try {
      const backing = new ArrayBuffer(16);
      expect(ioctlErrno(fd, FIONREAD, new DataView(backing, 4, 4))).toBe(0);
      expect(new DataView(backing).getInt32(4, true)).toBe(1234);
      expect(new DataView(backing).getInt32(0, true)).toBe(0);
    } finally {
      close(fd);
    }
  });

  it('accepts value arguments and returns the result', () => {
    const fd = open('/dev/null', constants.O_RDONLY);
    try {
      expect(ioctl(fd, FIOCLEX)).toBe(0);
      expect(ioctl(fd, FIOCLEX, 0)).toBe(0);
      expect(ioctl(fd, FIOCLEX, 0n)).toBe(0);
    } finally {
      close(fd);
    }
  });

  it('rejects an argument that is neither a word nor a view with EINVAL', () => {
    expect(ioctlErrno(-1, FIOCLEX, 'x' as unknown as number)).toBe(-EINVAL);
  });
});

describe('run', () => {
  it('returns -EBADF for fd -1 and never throws', () => {
    expect(run(-1)).toBe(-EBADF);
    expect(run('bogus' as unknown as number)).toBe(-EBADF);
  });
});

describe('eventfd', () => {
  it('is opened O_CLOEXEC', () => {
    const fd = eventfd(0, 0);
    try {
      expect(fdFlags(fd) & constants.O_CLOEXEC).toBe(constants.O_CLOEXEC);
    } finally {
      close(fd);
    }
  });

  it('SyscallError is exported as a class', () => {
    expect(new SyscallError('x', 1, 'EPERM', 'm')).toMatchObject({ syscall: 'x', errno: 1, code: 'EPERM' });
  });
});
