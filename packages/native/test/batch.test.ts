import * as fs from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import * as path from 'node:path';

import { ANY_RESULT, IoctlBatch, MAX_IOCTL_BATCH, close, constants, ioctlBatchError, open, runIoctlBatch } from '../src';
import { expectSyscallError } from './support/errors';
import { fdFlags } from './support/proc';

const { ENOTTY, EBADF } = osConstants.errno;
/** asm-generic/ioctls.h: bytes readable; set / clear close-on-exec. */
const FIONREAD = 0x541b;
const FIOCLEX = 0x5451;
const FIONCLEX = 0x5450;
/** No tty ioctl on a regular file: ENOTTY. */
const TCGETS = 0x5401;

describe('runIoctlBatch (real ioctls on a regular file, one crossing)', () => {
  let dir: string;
  let file: string;
  let fd: number;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'kvmts-batch-'));
    file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(1234));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    fd = open(file, constants.O_RDONLY);
  });
  afterEach(() => close(fd));

  const cloexec = (): boolean => (fdFlags(fd) & constants.O_CLOEXEC) !== 0;

  it('runs every ioctl in order, each view by pointer, and reports each result', () => {
    const a = new Int32Array(1);
    const backing = new ArrayBuffer(16);
    const b = new DataView(backing, 8, 4);
    const batch = new IoctlBatch();
    expect(batch.add(FIONREAD, a)).toBe(0);
    expect(batch.add(FIONCLEX, undefined)).toBe(1);
    expect(batch.add(FIONREAD, b, 0)).toBe(2);
    expect(runIoctlBatch(fd, batch)).toBe(3);
    expect(a[0]).toBe(1234);
    expect(new DataView(backing).getInt32(8, true)).toBe(1234);
    expect(new DataView(backing).getInt32(4, true)).toBe(0);
    expect(Array.from(batch.results.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(cloexec()).toBe(false); // FIONCLEX ran
  });

  it('stops at the first failure: its index and -errno, nothing after it runs', () => {
    const batch = new IoctlBatch();
    batch.add(FIONCLEX, undefined);
    batch.add(TCGETS, new Uint8Array(64));
    batch.add(FIOCLEX, undefined);
    expect(cloexec()).toBe(true);
    expect(runIoctlBatch(fd, batch)).toBe(1);
    expect(batch.results[0]).toBe(0);
    expect(batch.results[1]).toBe(-ENOTTY);
    expect(cloexec()).toBe(false); // ioctl 0 ran, ioctl 2 (FIOCLEX) did not
    const error = expectSyscallError(() => {
      throw ioctlBatchError(fd, batch, 1);
    }, 'ioctl', 'ENOTTY');
    expect(error.message).toContain('0x5401');
  });

  it('stops where a result differs from the one expected (as KVM_GET_MSRS answering fewer entries)', () => {
    const batch = new IoctlBatch();
    batch.add(FIONREAD, new Int32Array(1), 0);
    batch.add(FIONCLEX, undefined, 1); // answers 0, not 1
    batch.add(FIOCLEX, undefined, ANY_RESULT);
    expect(runIoctlBatch(fd, batch)).toBe(1);
    expect(batch.results[1]).toBe(0);
    expect(cloexec()).toBe(false);
  });

  it('a bad fd fails at ioctl 0 with EBADF', () => {
    const batch = new IoctlBatch();
    batch.add(FIONCLEX, undefined);
    expect(runIoctlBatch(-1, batch)).toBe(0);
    expect(batch.results[0]).toBe(-EBADF);
  });

  it('an argument it cannot pass is EINVAL before any ioctl runs', () => {
    const batch = new IoctlBatch();
    batch.add(FIONCLEX, undefined);
    batch.add(FIONREAD, 'four bytes' as unknown as Int32Array);
    expectSyscallError(() => runIoctlBatch(fd, batch), 'ioctl', 'EINVAL');
    expect(cloexec()).toBe(true);
  });

  it('an empty batch runs nothing; clear() empties it for reuse', () => {
    const batch = new IoctlBatch();
    expect(runIoctlBatch(fd, batch)).toBe(0);
    batch.add(FIONCLEX, undefined);
    batch.clear();
    expect(batch.count).toBe(0);
    expect(runIoctlBatch(fd, batch)).toBe(0);
    expect(cloexec()).toBe(true);
  });

  it(`holds at most ${MAX_IOCTL_BATCH} ioctls`, () => {
    const batch = new IoctlBatch();
    for (let i = 0; i < MAX_IOCTL_BATCH; i++) batch.add(FIONREAD, new Int32Array(1), 0);
    expect(() => batch.add(FIONREAD, new Int32Array(1))).toThrow(RangeError);
    expect(runIoctlBatch(fd, batch)).toBe(MAX_IOCTL_BATCH);
  });
});
