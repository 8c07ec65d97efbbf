/**
 * @kvmts/native — the syscall surface kvmts stands on.
 *
 * This package knows nothing about KVM policy: no ioctl numbers, no struct layouts.
 * Those live in TypeScript next to the code that uses them (@kvmts/core, arch packages).
 *
 * CONTRACT (implemented in native/*.cc, wrapped here):
 *  - every fd is opened O_CLOEXEC;
 *  - failing calls throw `SyscallError` { syscall, errno, code } — except `run()`, which
 *    returns 0 or -errno and never throws (throwing during worker shutdown aborts Node);
 *  - mappings are owned natively and only released by `unmap()`; ArrayBuffers handed out
 *    are non-owning views (GC never unmaps guest memory), at most 4 GiB each;
 *  - after fork(), every call in the child throws `SyscallError` with code 'EFORKED'.
 */
export {};
