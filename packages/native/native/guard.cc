// gem5's fork rule: KVM objects belong to the process that created them. A fork()ed child
// shares the fds but must not drive the VM (the kernel would let it, and two processes
// would race on one vCPU). The child handler of pthread_atfork flips a flag; every guarded
// call checks it and fails with EFORKED instead of touching the kernel object.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "common.h"

namespace kvmts {
namespace {

std::atomic<bool> gForked{false};
// Perf counters this process opened. Lock-free slots: the atfork child handler walks them in a
// child where another thread's lock may have been held at fork time.
constexpr int kMaxPerfFds = 256;
std::atomic<int> gPerfFds[kMaxPerfFds];
std::once_flag gPerfInit;

void InitPerfSlots() {
  for (auto& slot : gPerfFds) slot.store(-1, std::memory_order_relaxed);
}
// The process that loaded the addon (and so owns every KVM object it created).
std::atomic<pid_t> gOwnerPid{0};
std::once_flag gGuardOnce;

void OnForkChild() {
  gForked.store(true, std::memory_order_relaxed);
  for (auto& slot : gPerfFds) {
    int fd = slot.exchange(-1, std::memory_order_relaxed);
    if (fd >= 0) ::close(fd);
  }
}

Napi::Value InForkedChildJs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), InForkedChild());
}

Napi::Value TrackedPerfFdCountJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TrackedPerfFdCount());
}

Napi::Value DescribeFailureJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string syscall = info[0].As<Napi::String>().Utf8Value();
  int64_t rc = info[1].As<Napi::Number>().Int64Value();
  char code[32];
  char message[320];
  DescribeFailure(syscall.c_str(), rc, code, sizeof code, message, sizeof message);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::String::New(env, code));
  out.Set(1u, Napi::String::New(env, message));
  return out;
}

}  // namespace

void TrackPerfFd(int fd) {
  std::call_once(gPerfInit, InitPerfSlots);
  for (auto& slot : gPerfFds) {
    int expected = -1;
    if (slot.compare_exchange_strong(expected, fd)) return;
  }
  // More than kMaxPerfFds counters: this one is not detached in a forked child (the guard
  // still refuses every KVM call there).
}

void ForgetFd(int fd) {
  std::call_once(gPerfInit, InitPerfSlots);
  for (auto& slot : gPerfFds) {
    int expected = fd;
    if (slot.compare_exchange_strong(expected, -1)) return;
  }
}

int TrackedPerfFdCount() {
  std::call_once(gPerfInit, InitPerfSlots);
  int n = 0;
  for (auto& slot : gPerfFds) n += slot.load(std::memory_order_relaxed) >= 0 ? 1 : 0;
  return n;
}

void InstallForkGuard() {
  std::call_once(gPerfInit, InitPerfSlots);
  std::call_once(gGuardOnce, [] {
    gOwnerPid.store(getpid());
    pthread_atfork(nullptr, nullptr, OnForkChild);
  });
}

bool InForkedChild() { return gForked.load(std::memory_order_relaxed); }

bool InForkedChildStrict() { return InForkedChild() || getpid() != gOwnerPid.load(); }

void DescribeFailure(const char* syscall, int64_t rc, char* code, size_t codeLen, char* message,
                     size_t messageLen) {
  if (rc == kForkedRc) {
    snprintf(code, codeLen, "EFORKED");
    snprintf(message, messageLen,
             "kvmts: KVM objects cannot be used in a forked child process (pid %d); the parent "
             "(pid %d) still owns them: this is not supported (%s refused)",
             static_cast<int>(getpid()), static_cast<int>(gOwnerPid.load()), syscall);
    return;
  }
  int err = static_cast<int>(-rc);
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  if (name != nullptr) {
    snprintf(code, codeLen, "%s", name);
  } else {
    snprintf(code, codeLen, "E%d", err);
  }
  char text[128];
  // GNU strerror_r returns a pointer that may or may not be `text`.
  const char* desc = strerror_r(err, text, sizeof text);
  snprintf(message, messageLen, "kvmts: %s failed: %s (%s)", syscall, desc, code);
}

void InitGuard(Napi::Env env, Napi::Object exports) {
  exports.Set("describeFailure", Napi::Function::New(env, DescribeFailureJs, "describeFailure"));
  exports.Set("inForkedChild", Napi::Function::New(env, InForkedChildJs, "inForkedChild"));
  exports.Set("trackedPerfFdCount", Napi::Function::New(env, TrackedPerfFdCountJs, "trackedPerfFdCount"));
  exports.Set("forkedRc", Napi::Number::New(env, static_cast<double>(kForkedRc)));
}

}  // namespace kvmts
