/**
 * @kvmts/native — the syscall surface kvmts stands on.
 *
 * This package knows nothing about KVM policy: no ioctl numbers, no struct layouts (the
 * one exception is KVM_RUN inside `run`). Those live in TypeScript next to the code that
 * uses them (@kvmts/core, arch packages).
 *
 * CONTRACT (implemented in native/*.cc, wrapped here):
 *  - every fd is opened O_CLOEXEC;
 *  - failing calls throw `SyscallError` { syscall, errno, code } — except `run()` and
 *    `ioctlErrno()`, which return -errno and never throw (throwing during worker shutdown
 *    aborts Node);
 *  - mappings are owned natively and only released by `unmap()`; ArrayBuffers handed out
 *    are non-owning views (GC never unmaps guest memory), at most 4 GiB each;
 *  - `runIoctlBatch` runs several ioctls on one fd in one crossing and reports where it
 *    stopped (it throws only for a batch it cannot read);
 *  - `mallocStats`/`mallocTrim` report and trim the C heap (glibc; undefined/false elsewhere);
 *  - `releaseBytes` frees a whole ArrayBuffer's memory now (it detaches it), not at a later GC;
 *  - `statMany` stats several paths in one call (one Buffer to compare; a missing file marked);
 *  - `pageChecksums` computes the CRC-32 of many pages of a view in one call;
 *  - `SliceTimer` ends a vCPU's run after a slice of host time from a native thread (for a vCPU
 *    on a thread with other work: Node's main thread);
 *  - after fork(), guarded calls in the child throw `SyscallError` with code 'EFORKED'
 *    (`run`/`ioctlErrno` return -EPERM); `close` stays allowed.
 */
export { SyscallError, MappingGoneError, NativeLoadError } from './errors';
export { constants, type Constants } from './constants';
export { open, close, ioctl, ioctlErrno, lseek, setNonBlocking } from './fd';
export { IoctlBatch, runIoctlBatch, ioctlBatchError, MAX_IOCTL_BATCH, ANY_RESULT } from './batch';
export { mmap, remapFile, nonZeroPages, mappingById, liveMappingCount, pageSize, MAX_VIEW_LENGTH, type Mapping, type MmapPlacement } from './mapping';
export { eventfd, eventfdRead, eventfdTryRead, eventfdWrite } from './eventfd';
export { perfEventOpen } from './perf';
export { run, runError, installKickHandler, currentThread, kickThread, gettid } from './vcpu';
export { forkProbe, trackedPerfFdCount, type ForkProbeResult } from './fork';
export { mallocStats, mallocTrim, type MallocStats } from './malloc';
export { releaseBytes } from './release';
export { statMany, statRecord, STAT_RECORD_BYTES, type StatRecord } from './stat';
export { SliceTimer, liveSliceTimerCount } from './slice-timer';
export { pageChecksums } from './checksum';
