import { close, constants, perfEventOpen } from '../src';
import { expectSyscallError } from './support/errors';
import { fdFlags } from './support/proc';

/** linux/perf_event.h: sizeof(struct perf_event_attr) in this machine's headers (PERF_ATTR_SIZE_VER7). */
const ATTR_SIZE = 128;
const PERF_TYPE_HARDWARE = 0;
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_HW_CPU_CYCLES = 0;
const PERF_COUNT_SW_TASK_CLOCK = 1;
/** Bitfield word after read_format: disabled = bit 0, exclude_kernel = bit 5, exclude_hv = bit 6. */
const FLAGS_OFFSET = 40;

function attr(type: number, config: bigint, flags: bigint): Uint8Array {
  const bytes = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, ATTR_SIZE, true);
  dv.setBigUint64(8, config, true);
  dv.setBigUint64(FLAGS_OFFSET, flags, true);
  return bytes;
}

describe('perfEventOpen', () => {
  it('opens a software task-clock counter for this thread, O_CLOEXEC', () => {
    const fd = perfEventOpen(attr(PERF_TYPE_SOFTWARE, BigInt(PERF_COUNT_SW_TASK_CLOCK), 1n), 0, -1, -1, 0);
    try {
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(fdFlags(fd) & constants.O_CLOEXEC).toBe(constants.O_CLOEXEC);
    } finally {
      close(fd);
    }
  });

  it('a hardware cycles counter either opens or fails with ENOENT (no PMU), without crashing', () => {
    const flags = 1n | (1n << 5n) | (1n << 6n);
    let fd = -1;
    try {
      fd = perfEventOpen(attr(PERF_TYPE_HARDWARE, BigInt(PERF_COUNT_HW_CPU_CYCLES), flags), 0, -1, -1, 0);
    } catch (error) {
      expect(error).toMatchObject({ name: 'SyscallError', syscall: 'perf_event_open', code: 'ENOENT' });
    }
    if (fd >= 0) {
      expect(fdFlags(fd) & constants.O_CLOEXEC).toBe(constants.O_CLOEXEC);
      close(fd);
    }
  });

  it('a bogus group fd throws EBADF naming perf_event_open', () => {
    expectSyscallError(
      () => perfEventOpen(attr(PERF_TYPE_SOFTWARE, BigInt(PERF_COUNT_SW_TASK_CLOCK), 1n), 0, -1, 1_000_000, 0),
      'perf_event_open',
      'EBADF',
    );
  });

  it('refuses an attr buffer shorter than its size field', () => {
    const short = attr(PERF_TYPE_SOFTWARE, 0n, 0n).subarray(0, 96);
    expect(() => perfEventOpen(short, 0, -1, -1, 0)).toThrow(RangeError);
    expect(() => perfEventOpen(new Uint8Array(32), 0, -1, -1, 0)).toThrow(RangeError);
  });
});
