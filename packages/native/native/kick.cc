// The vCPU kick: a no-op handler for SIGRTMIN+4 installed WITHOUT SA_RESTART, so a signal
// delivered to a thread blocked in KVM_RUN makes the ioctl return EINTR. (SIGUSR1 belongs to
// Node's inspector and SIGUSR2 may be taken by user code.)
//
// Threads are identified by pthread_t. pthread_kill on a thread that has exited is undefined
// behaviour, so threads that hand out their handle are tracked: a thread_local guard removes
// the handle when the thread exits, and kickThread signals only while holding the registry
// lock, so the target cannot finish exiting in between. (A later thread may reuse the same
// pthread_t; kicking it by mistake costs one spurious EINTR, which run loops tolerate.)
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_set>

#include "common.h"

namespace kvmts {
namespace {

struct Threads {
  std::mutex lock;
  std::unordered_set<uint64_t> live;
};

// Leaked on purpose: thread_local destructors of late threads may run after static destructors.
Threads& TheThreads() {
  static Threads* threads = new Threads();
  return *threads;
}

struct ThreadEntry {
  bool registered = false;
  ~ThreadEntry() {
    if (!registered) return;
    Threads& t = TheThreads();
    std::lock_guard<std::mutex> guard(t.lock);
    t.live.erase(static_cast<uint64_t>(pthread_self()));
  }
};

thread_local ThreadEntry tThisThread;
std::once_flag gHandlerOnce;
int gHandlerError = 0;

void NoOp(int) {}

Napi::Value InstallKickHandler(const Napi::CallbackInfo& info) {
  std::call_once(gHandlerOnce, [] {
    struct sigaction action = {};
    action.sa_handler = NoOp;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back with EINTR
    if (sigaction(KickSignal(), &action, nullptr) < 0) gHandlerError = errno;
  });
  if (gHandlerError != 0) return Napi::Number::New(info.Env(), -gHandlerError);
  // Make sure the calling (vCPU) thread can receive the kick.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return Napi::Number::New(info.Env(), KickSignal());
}

Napi::Value CurrentThread(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), RegisterCurrentThread());
}

// kickThread(handle) → 0 or -errno (-ESRCH when the thread has exited or never registered).
Napi::Value KickThread(const Napi::CallbackInfo& info) {
  bool lossless;
  uint64_t handle = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  return Napi::Number::New(info.Env(), KickIfLive(handle));
}

}  // namespace

int KickSignal() { return SIGRTMIN + 4; }

uint64_t RegisterCurrentThread() {
  uint64_t self = static_cast<uint64_t>(pthread_self());
  if (!tThisThread.registered) {
    Threads& t = TheThreads();
    std::lock_guard<std::mutex> guard(t.lock);
    t.live.insert(self);
    tThisThread.registered = true;
  }
  return self;
}

int KickIfLive(uint64_t handle) {
  Threads& t = TheThreads();
  std::lock_guard<std::mutex> guard(t.lock);
  if (t.live.count(handle) == 0) return -ESRCH;
  return -pthread_kill(static_cast<pthread_t>(handle), KickSignal());
}

void InitKick(Napi::Env env, Napi::Object exports) {
  exports.Set("installKickHandler", Napi::Function::New(env, InstallKickHandler, "installKickHandler"));
  exports.Set("currentThread", Napi::Function::New(env, CurrentThread, "currentThread"));
  exports.Set("kickThread", Napi::Function::New(env, KickThread, "kickThread"));
}

}  // namespace kvmts
