// statMany: the identity of several files in one call, for "is this checkpoint unchanged?"
// (core's checkpoint snapshot cache). Node's fs.statSync with bigint times costs a crossing, a
// BigIntStats object and four Dates per file; a warm restore asks about a dozen files every
// time. Here every file's answer is six little-endian int64 words in one Buffer, so the caller
// compares it with the bytes it kept by one Buffer.equals.
//
// Per path, STAT_WORDS int64 (stat(2), symlinks followed, as fs.statSync):
//   [0] st_mode, or -errno when stat failed (the other words are then 0)
//   [1] st_dev  [2] st_ino  [3] st_size  [4] mtime in ns  [5] ctime in ns
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common.h"

namespace kvmts {
namespace {

constexpr size_t kStatWords = 6;

int64_t Nanoseconds(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + static_cast<int64_t>(t.tv_nsec);
}

void Put(uint8_t* at, int64_t value) {
  // Little-endian whatever the host (the TypeScript side reads the words with readBigInt64LE).
  uint64_t v = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; i++) at[i] = static_cast<uint8_t>(v >> (8 * i));
}

// statMany(paths: string[]) → Buffer of paths.length * 48 bytes, or a negative number for bad
// input (-EINVAL: not an array of strings). A path with a NUL byte is reported as -ENOENT
// (no such file can exist), as any other path that stat(2) cannot find.
Napi::Value StatMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Napi::Number::New(env, -EINVAL);
  Napi::Array paths = info[0].As<Napi::Array>();
  const uint32_t count = paths.Length();
  for (uint32_t i = 0; i < count; i++) {
    if (!paths.Get(i).IsString()) return Napi::Number::New(env, -EINVAL);
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(count) * kStatWords * 8);
  uint8_t* bytes = out.Data();
  std::memset(bytes, 0, out.Length());
  for (uint32_t i = 0; i < count; i++) {
    const std::string path = paths.Get(i).As<Napi::String>().Utf8Value();
    uint8_t* record = bytes + static_cast<size_t>(i) * kStatWords * 8;
    struct stat st;
    if (path.find('\0') != std::string::npos) {
      Put(record, -ENOENT);
      continue;
    }
    if (stat(path.c_str(), &st) != 0) {
      Put(record, -static_cast<int64_t>(errno));
      continue;
    }
    const int64_t words[kStatWords] = {static_cast<int64_t>(st.st_mode), static_cast<int64_t>(st.st_dev), static_cast<int64_t>(st.st_ino),
                                       static_cast<int64_t>(st.st_size), Nanoseconds(st.st_mtim), Nanoseconds(st.st_ctim)};
    for (size_t w = 0; w < kStatWords; w++) Put(record + w * 8, words[w]);
  }
  return out;
}

}  // namespace

void InitStat(Napi::Env env, Napi::Object exports) {
  exports.Set("statMany", Napi::Function::New(env, StatMany, "statMany"));
}

}  // namespace kvmts
