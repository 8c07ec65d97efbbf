// Page checksums in one call: a checkpoint stores the CRC-32 of every page it writes and checks
// it on a verified restore. One JS call per 4 KiB page (zlib.crc32) cost about as much as the
// checksums themselves (~1 µs × 16 384 pages for 64 MiB); this computes a whole view's.
//
// The CRC is zlib's crc32() — the very function behind Node's zlib.crc32, whose symbols the node
// binary exports — so the values are those the format documents (pages.crc) and that older
// checkpoints hold.
#include <zlib.h>

#include <cstdint>
#include <cstring>

#include "common.h"

namespace kvmts {
namespace {

bool ByteView(napi_env env, napi_value value, const uint8_t** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok || type != napi_uint8_array) return false;
  *data = static_cast<const uint8_t*>(raw);
  return true;
}

// pageChecksums(view: Uint8Array, pageSize, selected: Uint8Array | undefined, firstBit) → Buffer
// with the CRC-32 (little-endian uint32) of each page p of `view` whose bit firstBit + p is set
// in `selected` (bit n of byte n / 8, least significant first; undefined: every page), in page
// order; or a number (-EINVAL) for a view that is not a whole number of pages, a page size of 0,
// or a bitmap too short for the view's pages.
Napi::Value PageChecksums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* bytes = nullptr;
  size_t length = 0;
  if (!ByteView(env, info[0], &bytes, &length) || !info[1].IsNumber()) return Napi::Number::New(env, -EINVAL);
  const uint32_t pageSize = info[1].As<Napi::Number>().Uint32Value();
  if (pageSize == 0 || length % pageSize != 0) return Napi::Number::New(env, -EINVAL);
  const size_t pages = length / pageSize;
  const uint8_t* bits = nullptr;
  size_t bitBytes = 0;
  const bool all = info[2].IsUndefined();
  if (!all && !ByteView(env, info[2], &bits, &bitBytes)) return Napi::Number::New(env, -EINVAL);
  const double firstBitNumber = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
  if (!(firstBitNumber >= 0 && firstBitNumber <= 9.0e15)) return Napi::Number::New(env, -EINVAL);
  const uint64_t firstBit = static_cast<uint64_t>(firstBitNumber);
  if (!all && (firstBit + pages + 7) / 8 > bitBytes) return Napi::Number::New(env, -EINVAL);
  auto selected = [&](size_t p) {
    if (all) return true;
    const uint64_t bit = firstBit + p;
    return (bits[bit >> 3] & (1u << (bit & 7))) != 0;
  };
  size_t count = 0;
  for (size_t p = 0; p < pages; p++) count += selected(p) ? 1 : 0;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, count * 4);
  uint8_t* at = out.Data();
  for (size_t p = 0; p < pages; p++) {
    if (!selected(p)) continue;
    const uint32_t crc = static_cast<uint32_t>(crc32(0L, bytes + p * pageSize, pageSize));
    const uint8_t le[4] = {static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc >> 16), static_cast<uint8_t>(crc >> 24)};
    std::memcpy(at, le, 4);
    at += 4;
  }
  return out;
}

}  // namespace

void InitChecksum(Napi::Env env, Napi::Object exports) {
  exports.Set("pageChecksums", Napi::Function::New(env, PageChecksums, "pageChecksums"));
}

}  // namespace kvmts
