// The C heap's own account of itself, for the soak benchmark and leak hunts: glibc's
// mallinfo2() summed over every arena (each worker thread gets its own), and malloc_trim(0).
// RSS alone cannot tell memory the program still holds from memory the allocator keeps free
// after it was released; these two can.
//
// Both are looked up at run time (dlsym) rather than linked: mallinfo2 is glibc ≥ 2.33 and
// neither exists in musl, and a missing symbol must cost this one call, not the whole addon.
#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>

#include "common.h"

namespace kvmts {
namespace {

// glibc's struct mallinfo2 (malloc.h, 2.33+), spelled out so the file builds on older headers.
struct MallInfo2 {
  size_t arena;     // bytes obtained with sbrk/mmap for the arenas (not the big mmapped blocks)
  size_t ordblks;   // free chunks
  size_t smblks;    // free fastbin chunks
  size_t hblks;     // mmapped blocks
  size_t hblkhd;    // bytes in mmapped blocks
  size_t usmblks;   // always 0
  size_t fsmblks;   // bytes in free fastbin chunks
  size_t uordblks;  // bytes allocated (in use) in the arenas
  size_t fordblks;  // bytes free in the arenas
  size_t keepcost;  // top-most releasable bytes of the main arena
};

using MallInfo2Fn = MallInfo2 (*)();
using MallocTrimFn = int (*)(size_t);

template <typename Fn>
Fn Lookup(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

// [arena, hblkhd, uordblks, fordblks, keepcost, hblks] in bytes, or undefined without mallinfo2.
Napi::Value MallocInfo(const Napi::CallbackInfo& info) {
  static const MallInfo2Fn mallinfo2 = Lookup<MallInfo2Fn>("mallinfo2");
  Napi::Env env = info.Env();
  if (mallinfo2 == nullptr) return env.Undefined();
  const MallInfo2 m = mallinfo2();
  const size_t fields[] = {m.arena, m.hblkhd, m.uordblks, m.fordblks, m.keepcost, m.hblks};
  Napi::Array out = Napi::Array::New(env, sizeof fields / sizeof fields[0]);
  for (uint32_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    out.Set(i, Napi::Number::New(env, static_cast<double>(fields[i])));
  }
  return out;
}

// malloc_trim(0): 1 when memory went back to the system, 0 when none could, -1 without it.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  static const MallocTrimFn trim = Lookup<MallocTrimFn>("malloc_trim");
  return Napi::Number::New(info.Env(), trim == nullptr ? -1 : trim(0));
}

}  // namespace

void InitHeap(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocInfo", Napi::Function::New(env, MallocInfo, "mallocInfo"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
}

}  // namespace kvmts
