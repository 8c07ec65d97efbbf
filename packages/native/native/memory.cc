// mmap'd regions live in one process-wide registry keyed by id, so every thread (main and
// vCPU workers) reaches the same mapping, and only an explicit unmap releases it. JS gets
// non-owning external ArrayBuffers: their finalizer does nothing, so GC can never unmap
// guest RAM under a running guest (the measured failure when a finalizer owned munmap).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

// mmap at an address that is a multiple of `align` (a power of two above the page size): reserve
// `length + align` of address space with no access, map the real thing with MAP_FIXED at the first
// aligned address inside it, and give back the head and tail. KVM maps guest memory with 2 MiB
// blocks (stage 2 on arm64, NPT/EPT on x86) only where the host address and the guest physical
// address agree modulo 2 MiB; an unaligned mapping is faulted in 4 KiB at a time.
void* MmapAligned(size_t length, int prot, int flags, int fd, off_t offset, size_t align) {
  size_t span = length + align;
  void* reserved = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return MAP_FAILED;
  uintptr_t start = reinterpret_cast<uintptr_t>(reserved);
  uintptr_t aligned = (start + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  void* p = ::mmap(reinterpret_cast<void*>(aligned), length, prot, flags | MAP_FIXED, fd, offset);
  if (p == MAP_FAILED) {
    int saved = errno;
    ::munmap(reserved, span);
    errno = saved;
    return MAP_FAILED;
  }
  if (aligned > start) ::munmap(reserved, aligned - start);
  uintptr_t end = aligned + length;
  if (start + span > end) ::munmap(reinterpret_cast<void*>(end), start + span - end);
  return p;
}

// mmap(length, prot, flags, fd, offset, align, hugePages) → id (> 0) or -errno / kForkedRc.
// `align` 0 (or the page size) places the mapping anywhere; a larger power of two aligns it.
// `hugePages` asks for transparent huge pages (madvise MADV_HUGEPAGE; advice only: a kernel
// without THP ignores it, so a failure there is not an error).
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  double length = info[0].As<Napi::Number>().DoubleValue();
  int prot = info[1].As<Napi::Number>().Int32Value();
  int flags = info[2].As<Napi::Number>().Int32Value();
  int fd = info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  double offset = info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : 0;
  double align = info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : 0;
  bool hugePages = info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
  if (!(length > 0) || !(offset >= 0) || !(align >= 0)) return Num(env, -EINVAL);
  size_t alignBytes = static_cast<size_t>(align);
  if (alignBytes != 0 && (alignBytes & (alignBytes - 1)) != 0) return Num(env, -EINVAL);
  if (InForkedChildStrict()) return Num(env, kForkedRc);
  size_t pageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* p = alignBytes > pageSize
      ? MmapAligned(static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset), alignBytes)
      : ::mmap(nullptr, static_cast<size_t>(length), prot, flags, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return Num(env, -errno);
#ifdef MADV_HUGEPAGE
  if (hugePages) ::madvise(p, static_cast<size_t>(length), MADV_HUGEPAGE);
#endif
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

// nonZeroPages(view, pageSize) → Uint8Array with one bit per page of the view (bit n of byte
// n / 8, least significant first), set where the page holds a non-zero byte. A checkpoint save
// looks at every page of guest RAM to store only the non-zero ones; one call for a whole region
// instead of a JS call per page (the per-call cost dominated: ~1 µs × 262 144 pages per GiB).
// Returns undefined for a view whose length is not a multiple of pageSize (a multiple of 8).
Napi::Value NonZeroPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byteOffset = 0;
  if (napi_get_typedarray_info(env, info[0], &type, &length, &data, &buffer, &byteOffset) != napi_ok || type != napi_uint8_array) {
    return env.Undefined();
  }
  uint32_t pageSize = info[1].As<Napi::Number>().Uint32Value();
  bool skipUnpopulated = info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  if (pageSize == 0 || pageSize % 8 != 0 || length % pageSize != 0) return env.Undefined();
  size_t pages = length / pageSize;
  Napi::Uint8Array map = Napi::Uint8Array::New(env, (pages + 7) / 8);
  uint8_t* bits = map.Data();
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  // skipUnpopulated (the caller vouches the memory is an anonymous private mapping): a page with
  // no page-table entry at all — neither present (bit 63 of its /proc/self/pagemap entry) nor
  // swapped (bit 62) — was never written (or was discarded) and reads as zero, so it is not
  // read: reading it would fault in the zero page, a cost per page that dominates saving a big,
  // mostly untouched guest. Unreadable pagemap: every page is read.
  int pagemap = -1;
  if (skipUnpopulated && pageSize == static_cast<uint32_t>(sysconf(_SC_PAGESIZE))) pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  constexpr size_t kChunk = 4096;
  uint64_t entries[kChunk];
  size_t chunkStart = 0, chunkLen = 0;
  const uint64_t kPopulated = (uint64_t{1} << 63) | (uint64_t{1} << 62);
  for (size_t p = 0; p < pages; p++) {
    if (pagemap >= 0) {
      if (p >= chunkStart + chunkLen) {
        chunkStart = p;
        size_t want = pages - p < kChunk ? pages - p : kChunk;
        uint64_t vpn = reinterpret_cast<uintptr_t>(bytes + p * pageSize) / pageSize;
        ssize_t got = pread(pagemap, entries, want * 8, static_cast<off_t>(vpn * 8));
        chunkLen = got > 0 ? static_cast<size_t>(got) / 8 : 0;
        if (chunkLen == 0) {
          close(pagemap);
          pagemap = -1;
        }
      }
      if (pagemap >= 0 && (entries[p - chunkStart] & kPopulated) == 0) continue;
    }
    const uint64_t* word = reinterpret_cast<const uint64_t*>(bytes + p * pageSize);
    const uint64_t* end = word + pageSize / 8;
    // OR-reduce in blocks: no early exit inside a block, so the compiler vectorizes it.
    uint64_t any = 0;
    for (; word < end && any == 0; word += 8) {
      uint64_t acc = 0;
      for (int i = 0; i < 8 && word + i < end; i++) acc |= word[i];
      any = acc;
    }
    if (any != 0) bits[p >> 3] |= static_cast<uint8_t>(1u << (p & 7));
  }
  if (pagemap >= 0) close(pagemap);
  return map;
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
  exports.Set("nonZeroPages", Napi::Function::New(env, NonZeroPages, "nonZeroPages"));
  exports.Set("mappingInfo", Napi::Function::New(env, MappingInfo, "mappingInfo"));
  exports.Set("mappingView", Napi::Function::New(env, MappingView, "mappingView"));
  exports.Set("detach", Napi::Function::New(env, Detach, "detach"));
  exports.Set("liveMappingCount", Napi::Function::New(env, LiveMappingCount, "liveMappingCount"));
}

}  // namespace kvmts
