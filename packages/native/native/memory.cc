// mmap'd regions live in one process-wide registry keyed by id, so every thread (main and
// vCPU workers) reaches the same mapping, and only an explicit unmap releases it. JS gets
// non-owning external ArrayBuffers: their finalizer does nothing, so GC can never unmap
// guest RAM under a running guest (the measured failure when a finalizer owned munmap).
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "common.h"

namespace kvmts {
namespace {

// One external ArrayBuffer is capped at 4 GiB on Node 20 (buffer.constants.MAX_LENGTH);
// 4 GiB + 4 KiB aborted the process. Larger regions are handed out in chunks of
// MAX_VIEW_LENGTH (src/mapping.ts, the same value: TypeScript knows it without the addon).
constexpr uint64_t kMaxView = uint64_t{1} << 32;

struct Region {
  void* address;
  size_t length;
};

struct Registry {
  std::mutex lock;
  std::unordered_map<uint64_t, Region> regions;
  uint64_t nextId = 1;
};

// Leaked on purpose: worker threads may still reach it while static destructors run at exit.
Registry& TheRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

Napi::Number Num(napi_env env, int64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

bool Lookup(uint64_t id, Region* out) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.lock);
  auto it = r.regions.find(id);
  if (it == r.regions.end()) return false;
  *out = it->second;
  return true;
}

uint64_t IdArg(const Napi::CallbackInfo& info) {
  double d = 0;
  napi_get_value_double(info.Env(), info[0], &d);
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}

// mmap(length, prot, flags, fd, offset) → id (> 0) or -errno / kForkedRc.
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  double length = info[0].As<Napi::Number>().DoubleValue();
  int prot = info[1].As<Napi::Number>().Int32Value();
  int flags = info[2].As<Napi::Number>().Int32Value();
  int fd = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  double offset = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : 0;
  if (!(length > 0) || !(offset >= 0)) return Num(env, -EINVAL);
  if (InForkedChildStrict()) return Num(env, kForkedRc);
  void* p = ::mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Num(env, -errno);
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.lock);
  uint64_t id = r.nextId++;
  r.regions.emplace(id, Region{p, static_cast<size_t>(length)});
  return Num(env, static_cast<int64_t>(id));
}

// remapFile(id, prot, flags, fd, offset) → 0 or -errno / kForkedRc. Maps `fd` from `offset` over
// the whole of mapping `id`, in place (MAP_FIXED): the address, the id and every view stay valid,
// and so does a KVM memory slot over it — the kernel's MMU notifiers drop what KVM mapped of the
// old pages. A checkpoint restore into a running machine swaps its guest RAM for the image this
// way. The registry lock is held throughout, so the mapping cannot be unmapped meanwhile.
Napi::Value RemapFile(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int prot = info[1].As<Napi::Number>().Int32Value();
  int flags = info[2].As<Napi::Number>().Int32Value();
  int fd = info[3].As<Napi::Number>().Int32Value();
  double offset = info[4].As<Napi::Number>().DoubleValue();
  if (!(offset >= 0)) return Num(env, -EINVAL);
  if (InForkedChildStrict()) return Num(env, kForkedRc);
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.lock);
  auto it = r.regions.find(IdArg(info));
  if (it == r.regions.end()) return Num(env, -ENOENT);
  void* p = ::mmap(it->second.address, it->second.length, prot, flags | MAP_FIXED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Num(env, -errno);
  return Num(env, 0);
}

// unmap(id) → 0, 1 when the id was already gone (idempotent), or -errno from munmap.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  uint64_t id = IdArg(info);
  Region region;
  {
    Registry& r = TheRegistry();
    std::lock_guard<std::mutex> guard(r.lock);
    auto it = r.regions.find(id);
    if (it == r.regions.end()) return Num(info.Env(), 1);
    region = it->second;
    r.regions.erase(it);
  }
  return Num(info.Env(), ::munmap(region.address, region.length) < 0 ? -errno : 0);
}

// mappingInfo(id) → [address: bigint, length: number] or undefined when unknown/unmapped.
Napi::Value MappingInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region region;
  if (!Lookup(IdArg(info), &region)) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(region.address))));
  out.Set(1u, Num(env, static_cast<int64_t>(region.length)));
  return out;
}

// mappingView(id, offset, length) → external ArrayBuffer, or undefined when unknown/unmapped.
// The TypeScript layer checks bounds first; the checks here keep the addon safe on its own.
Napi::Value MappingView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  double length = info[2].As<Napi::Number>().DoubleValue();
  Region region;
  if (!Lookup(IdArg(info), &region)) return env.Undefined();
  if (!(offset >= 0) || !(length > 0) || length > static_cast<double>(kMaxView) ||
      offset + length > static_cast<double>(region.length)) {
    Napi::RangeError::New(env, "kvmts: view outside the mapping or larger than 4 GiB")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // No finalizer: the view does not own the memory.
  return Napi::ArrayBuffer::New(env, static_cast<char*>(region.address) + static_cast<size_t>(offset),
                                static_cast<size_t>(length));
}

// Detaches a view created in this thread, so JS sees a zero-length buffer instead of
// dangling memory once the mapping is gone.
Napi::Value Detach(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  bool isBuffer = false;
  napi_is_arraybuffer(env, info[0], &isBuffer);
  bool ok = isBuffer && napi_detach_arraybuffer(env, info[0]) == napi_ok;
  return Napi::Boolean::New(env, ok);
}

Napi::Value LiveMappingCount(const Napi::CallbackInfo& info) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.lock);
  return Num(info.Env(), static_cast<int64_t>(r.regions.size()));
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("remapFile", Napi::Function::New(env, RemapFile, "remapFile"));
  exports.Set("mappingInfo", Napi::Function::New(env, MappingInfo, "mappingInfo"));
  exports.Set("mappingView", Napi::Function::New(env, MappingView, "mappingView"));
  exports.Set("detach", Napi::Function::New(env, Detach, "detach"));
  exports.Set("liveMappingCount", Napi::Function::New(env, LiveMappingCount, "liveMappingCount"));
}

}  // namespace kvmts
