/**
 * perf_event_open. The struct layout belongs to the caller (@kvmts/core); this only checks
 * that the kernel will not read past `attr`. Hardware events may be missing on a host (this
 * machine's PMU gives ENOENT): that is a SyscallError for the caller to report, never a crash.
 */
import { native } from './binding';
import { syscallError } from './errors';

/** The first published perf_event_attr size; the kernel treats attr.size 0 as this. */
const PERF_ATTR_SIZE_VER0 = 64;
/** Byte offset of perf_event_attr.size (after u32 type). */
const ATTR_SIZE_OFFSET = 4;

/** perf_event_open(attr, pid, cpu, groupFd, flags | PERF_FLAG_FD_CLOEXEC). Throws SyscallError. */
export function perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number {
  const declared = new DataView(attr.buffer, attr.byteOffset, attr.byteLength).getUint32(ATTR_SIZE_OFFSET, true);
  if (attr.byteLength < PERF_ATTR_SIZE_VER0 || declared > attr.byteLength) {
    throw new RangeError(
      `kvmts: perf_event_attr buffer of ${attr.byteLength} bytes is shorter than ${PERF_ATTR_SIZE_VER0} or than its size field (${declared})`,
    );
  }
  const fd = native.perfEventOpen(attr, pid, cpu, groupFd, flags);
  if (fd < 0) throw syscallError(native, 'perf_event_open', fd);
  return fd;
}
