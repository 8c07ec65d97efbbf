// Shared helpers for the kvmts native addon.
//
// Error convention: the native layer never throws for a failed syscall. Every call returns
// its result or -errno (or kForkedRc when the fork guard refused it); the TypeScript layer
// turns negative results into SyscallError. That keeps the addon free of JS error classes,
// keeps hot paths (ioctlErrno, run) exception-free, and lets forkProbe's child describe a
// failure with the very same code the parent uses.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace kvmts {

// Result of a call refused because this process is a fork()ed child of the KVM owner.
// Chosen outside the Linux errno range (MAX_ERRNO = 4095) so it never collides with -errno.
constexpr int64_t kForkedRc = -(int64_t{1} << 20);

// Registers the pthread_atfork child handler (once per process).
void InstallForkGuard();
// Hot-path check: set by the atfork child handler. A plain load, no syscall.
bool InForkedChild();
// Cold-path check: also compares getpid() with the loading process, which catches children
// created by raw clone()/vfork() that bypass pthread_atfork.
bool InForkedChildStrict();

// Describes a failed call (rc < 0) as an errno name ("EBADF" / "EFORKED") and a message.
// Uses only fixed buffers and snprintf: it runs in forkProbe's child after fork().
void DescribeFailure(const char* syscall, int64_t rc, char* code, size_t codeLen, char* message,
                     size_t messageLen);

// gem5's fork rule also detaches perf counters in the child: perf_event_open registers every
// counter it opens, close forgets it, and the atfork child handler closes what is left (a
// counter attached to a parent thread must not count on in, or be read by, the child).
void TrackPerfFd(int fd);
void ForgetFd(int fd);
// How many perf counters are registered (test support).
int TrackedPerfFdCount();

// The ioctl path shared by ioctl(), ioctlErrno() and forkProbe's child.
int64_t GuardedIoctl(int fd, uint32_t request, uint64_t arg);

// Reads a JS number or bigint as a 64-bit word (numbers may be negative: two's complement).
uint64_t ToWord(napi_env env, napi_value value);

// The vCPU kick signal (SIGRTMIN+4; kick.cc installs its no-op handler without SA_RESTART).
int KickSignal();
// The calling thread's handle (pthread_self), registered as live until the thread exits.
uint64_t RegisterCurrentThread();
// Sends the kick signal to a registered, live thread: 0, or -ESRCH (exited or never registered).
int KickIfLive(uint64_t handle);

// Export registration, one function per module.
void InitGuard(Napi::Env env, Napi::Object exports);
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitKick(Napi::Env env, Napi::Object exports);
void InitForkProbe(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);
void InitHeap(Napi::Env env, Napi::Object exports);
void InitStat(Napi::Env env, Napi::Object exports);
void InitSliceTimer(Napi::Env env, Napi::Object exports);
void InitChecksum(Napi::Env env, Napi::Object exports);

}  // namespace kvmts
