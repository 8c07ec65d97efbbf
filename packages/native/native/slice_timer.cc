// The slice timer: ends a vCPU's run after a slice of host time, for a vCPU that runs on a
// thread with other work to do (Node's main thread, whose event loop waits while the vCPU runs).
//
// It stops the run the way another thread's stop request does (core's cpu/vcpu-control.ts):
// STOP := 1 in the vCPU's control block, kvm_run.immediate_exit := 1, then the kick signal to
// the thread that armed it, so KVM_RUN returns EINTR and the run loop sees STOP at its top.
// The difference from core's run timer (a worker thread with its own V8 isolate) is that this
// one is a plain native thread: a vCPU on the main thread exists to avoid starting an isolate.
//
// States, under one mutex:  IDLE --arm--> ARMED --interval elapsed--> FIRED --disarm--> IDLE
//                                         ARMED --disarm--> IDLE (the slice ended on its own)
// The timer writes and signals only in ARMED → FIRED, holding the mutex, so once disarm()
// has returned nothing of this slice can reach the vCPU's memory or thread: the caller may
// clear STOP, free the control block or unmap kvm_run afterwards. The kick goes through kick.cc's
// registry of live threads (a thread that armed the timer and then ended without disarming it,
// a terminated worker, is not signalled). The timer's own thread blocks every signal, so none
// meant for the process lands on it.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common.h"

namespace kvmts {
namespace {

enum class State { kIdle, kArmed, kFired, kClosing };

struct SliceTimer {
  std::mutex lock;
  std::condition_variable wake;
  State state = State::kIdle;
  // Bumped by every arm and disarm: a wait that began for one slice never fires into the next.
  uint64_t generation = 0;
  std::chrono::nanoseconds interval{0};
  int32_t* stop = nullptr;
  uint8_t* immediateExit = nullptr;
  uint64_t target = 0;
  std::thread thread;

  SliceTimer() {
    // The new thread inherits this mask: start it with every signal blocked.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    thread = std::thread([this] { Loop(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }

  void Loop() {
    std::unique_lock<std::mutex> held(lock);
    for (;;) {
      wake.wait(held, [this] { return state == State::kArmed || state == State::kClosing; });
      if (state == State::kClosing) return;
      const uint64_t slice = generation;
      const auto deadline = std::chrono::steady_clock::now() + interval;
      const bool changed = wake.wait_until(held, deadline, [&] { return state != State::kArmed || generation != slice; });
      if (changed) continue;
      __atomic_store_n(stop, 1, __ATOMIC_SEQ_CST);
      __atomic_store_n(immediateExit, 1, __ATOMIC_SEQ_CST);
      state = State::kFired;
      KickIfLive(target);
    }
  }

  void Close() {
    {
      std::lock_guard<std::mutex> guard(lock);
      state = State::kClosing;
    }
    wake.notify_all();
    thread.join();
  }
};

struct Timers {
  std::mutex lock;
  std::map<uint32_t, std::shared_ptr<SliceTimer>> byId;
  uint32_t nextId = 1;
};

// Leaked on purpose, as the mapping registry: a worker may still hold a timer at exit.
Timers& TheTimers() {
  static Timers* timers = new Timers();
  return *timers;
}

std::shared_ptr<SliceTimer> Find(const Napi::Value& id) {
  if (!id.IsNumber()) return nullptr;
  Timers& t = TheTimers();
  std::lock_guard<std::mutex> guard(t.lock);
  auto it = t.byId.find(id.As<Napi::Number>().Uint32Value());
  return it == t.byId.end() ? nullptr : it->second;
}

// Raw bytes of a typed array argument (nullptr, length 0 when it is not one). Through
// napi_get_typedarray_info's data pointer: the array may view a SharedArrayBuffer, which
// napi_get_arraybuffer_info refuses.
uint8_t* TypedArrayBytes(napi_env env, const Napi::Value& v, napi_typedarray_type* type, size_t* length) {
  *length = 0;
  if (!v.IsTypedArray()) return nullptr;
  size_t count = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, type, &count, &data, nullptr, nullptr) != napi_ok) return nullptr;
  *length = v.As<Napi::TypedArray>().ByteLength();
  return static_cast<uint8_t*>(data);
}

// sliceTimerCreate() → id (> 0): starts the timer's thread, idle.
Napi::Value Create(const Napi::CallbackInfo& info) {
  auto timer = std::make_shared<SliceTimer>();
  Timers& t = TheTimers();
  std::lock_guard<std::mutex> guard(t.lock);
  const uint32_t id = t.nextId++;
  t.byId.emplace(id, std::move(timer));
  return Napi::Number::New(info.Env(), id);
}

// sliceTimerArm(id, stopWord: Int32Array (element 0 is STOP), immediateExit: Uint8Array
// (element 0), intervalNs) → 0, -ENOENT (no such timer), -EINVAL (bad arguments) or -EBUSY
// (armed already). The calling thread is the one kicked.
Napi::Value Arm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto timer = Find(info[0]);
  if (!timer) return Napi::Number::New(env, -ENOENT);
  size_t stopBytes, exitBytes;
  napi_typedarray_type stopType, exitType;
  uint8_t* stop = TypedArrayBytes(env, info[1], &stopType, &stopBytes);
  uint8_t* immediateExit = TypedArrayBytes(env, info[2], &exitType, &exitBytes);
  if (stop == nullptr || stopType != napi_int32_array || stopBytes < 4 || immediateExit == nullptr || exitType != napi_uint8_array ||
      exitBytes < 1 || !info[3].IsNumber()) {
    return Napi::Number::New(env, -EINVAL);
  }
  const double ns = info[3].As<Napi::Number>().DoubleValue();
  if (!(ns >= 1000 && ns <= 3.6e12)) return Napi::Number::New(env, -EINVAL);
  {
    std::lock_guard<std::mutex> guard(timer->lock);
    if (timer->state == State::kArmed || timer->state == State::kFired) return Napi::Number::New(env, -EBUSY);
    timer->stop = reinterpret_cast<int32_t*>(stop);
    timer->immediateExit = immediateExit;
    timer->interval = std::chrono::nanoseconds(static_cast<int64_t>(ns));
    timer->target = RegisterCurrentThread();
    timer->state = State::kArmed;
    timer->generation++;
  }
  timer->wake.notify_all();
  return Napi::Number::New(env, 0);
}

// sliceTimerDisarm(id) → 1 when the slice ran out (STOP and immediate_exit were set by the
// timer: the caller clears them), 0 when it had not, -ENOENT for no such timer.
Napi::Value Disarm(const Napi::CallbackInfo& info) {
  auto timer = Find(info[0]);
  if (!timer) return Napi::Number::New(info.Env(), -ENOENT);
  bool fired;
  {
    std::lock_guard<std::mutex> guard(timer->lock);
    fired = timer->state == State::kFired;
    if (timer->state != State::kClosing) timer->state = State::kIdle;
    timer->generation++;
    timer->stop = nullptr;
    timer->immediateExit = nullptr;
  }
  timer->wake.notify_all();
  return Napi::Number::New(info.Env(), fired ? 1 : 0);
}

// sliceTimerClose(id) → 0 or -ENOENT: ends the timer's thread (disarming it first).
Napi::Value Close(const Napi::CallbackInfo& info) {
  std::shared_ptr<SliceTimer> timer;
  {
    Timers& t = TheTimers();
    std::lock_guard<std::mutex> guard(t.lock);
    if (!info[0].IsNumber()) return Napi::Number::New(info.Env(), -ENOENT);
    auto it = t.byId.find(info[0].As<Napi::Number>().Uint32Value());
    if (it == t.byId.end()) return Napi::Number::New(info.Env(), -ENOENT);
    timer = std::move(it->second);
    t.byId.erase(it);
  }
  timer->Close();
  return Napi::Number::New(info.Env(), 0);
}

// How many slice timers are open (test support: none may leak).
Napi::Value LiveCount(const Napi::CallbackInfo& info) {
  Timers& t = TheTimers();
  std::lock_guard<std::mutex> guard(t.lock);
  return Napi::Number::New(info.Env(), static_cast<double>(t.byId.size()));
}

}  // namespace

void InitSliceTimer(Napi::Env env, Napi::Object exports) {
  exports.Set("sliceTimerCreate", Napi::Function::New(env, Create, "sliceTimerCreate"));
  exports.Set("sliceTimerArm", Napi::Function::New(env, Arm, "sliceTimerArm"));
  exports.Set("sliceTimerDisarm", Napi::Function::New(env, Disarm, "sliceTimerDisarm"));
  exports.Set("sliceTimerClose", Napi::Function::New(env, Close, "sliceTimerClose"));
  exports.Set("liveSliceTimerCount", Napi::Function::New(env, LiveCount, "liveSliceTimerCount"));
}

}  // namespace kvmts
