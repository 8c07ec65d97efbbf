// Entry point. NODE_API_MODULE registers a Node-API module, which is context-aware: each
// worker_thread gets its own exports object. Nothing here keeps per-env state in statics;
// the only process-wide state (mapping registry, kick threads, fork flag) is meant to be
// shared by every thread and is mutex-protected or atomic.
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kvmts::InstallForkGuard();
  kvmts::InitConstants(env, exports);
  kvmts::InitGuard(env, exports);
  kvmts::InitSyscalls(env, exports);
  kvmts::InitMemory(env, exports);
  kvmts::InitKick(env, exports);
  kvmts::InitForkProbe(env, exports);
  kvmts::InitHeap(env, exports);
  kvmts::InitStat(env, exports);
  kvmts::InitSliceTimer(env, exports);
  kvmts::InitChecksum(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(kvmts_native, Init)
