// The plain syscalls: open/close, ioctl, eventfd, perf_event_open, KVM_RUN, gettid, page size.
// Each returns its result or -errno (kForkedRc when refused in a forked child); see common.h.
// Raw napi_* calls are used on the ioctl/run paths: they are per-exit hot paths and must
// neither allocate handles nor leave a pending JS exception behind.
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include "common.h"

namespace kvmts {
namespace {

Napi::Number Num(napi_env env, int64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

int32_t ToInt32(napi_env env, napi_value value, int32_t fallback) {
  int32_t out;
  return napi_get_value_int32(env, value, &out) == napi_ok ? out : fallback;
}

uint32_t ToUint32(napi_env env, napi_value value) {
  uint32_t out;
  return napi_get_value_uint32(env, value, &out) == napi_ok ? out : 0;
}

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:  // float64, bigint64, biguint64
      return 8;
  }
}

// Resolves the bytes of an ArrayBufferView (or ArrayBuffer). Node adjusts the data pointer of
// typed arrays and DataViews by their byteOffset already.
bool ViewBytes(napi_env env, napi_value value, void** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count;
    napi_value buffer;
    size_t offset;
    if (napi_get_typedarray_info(env, value, &type, &count, data, &buffer, &offset) != napi_ok) return false;
    *length = count * ElementSize(type);
    return true;
  }
  if (napi_is_dataview(env, value, &is) == napi_ok && is) {
    napi_value buffer;
    size_t offset;
    return napi_get_dataview_info(env, value, length, data, &buffer, &offset) == napi_ok;
  }
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, value, data, length) == napi_ok;
  }
  return false;
}

// ioctl's third argument: a word by value (undefined → 0, number, bigint) or a pointer to a
// view's bytes. Returns false for any other type.
bool IoctlArg(napi_env env, napi_value value, uint64_t* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  switch (type) {
    case napi_undefined:
    case napi_null:
      *out = 0;
      return true;
    case napi_number:
    case napi_bigint:
      *out = ToWord(env, value);
      return true;
    case napi_object: {
      void* data = nullptr;
      size_t length = 0;
      if (!ViewBytes(env, value, &data, &length)) return false;
      *out = reinterpret_cast<uintptr_t>(data);
      return true;
    }
    default:
      return false;
  }
}

napi_value Arg(const Napi::CallbackInfo& info, size_t i) { return info[i]; }

Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int flags = ToInt32(info.Env(), Arg(info, 1), O_RDONLY);
  if (InForkedChildStrict()) return Num(info.Env(), kForkedRc);
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  return Num(info.Env(), fd < 0 ? -errno : fd);
}

// close is deliberately not fork-guarded: a child dropping inherited fds is harmless.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ToInt32(info.Env(), Arg(info, 0), -1);
  // Linux releases the fd even when close reports EINTR, so no retry.
  ForgetFd(fd);
  return Num(info.Env(), ::close(fd) < 0 ? -errno : 0);
}

Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint64_t arg;
  if (!IoctlArg(env, Arg(info, 2), &arg)) return Num(env, -EINVAL);
  return Num(env, GuardedIoctl(ToInt32(env, Arg(info, 0), -1), ToUint32(env, Arg(info, 1)), arg));
}

// ioctlBatch(fd, count, requests, args, expects, results): ioctl(fd, requests[i], args[i]) for
// i = 0..count-1 in one crossing (each N-API crossing costs ~90 ns natively, 12-27 us under
// TCG: a full x86 state sync is ~20 of them). results[i] gets each result (or -errno). Stops
// at the first that fails or, where expects[i] >= 0, returns anything else (KVM_GET/SET_MSRS
// answer how many entries they took). Returns how many succeeded: count, or the index of the
// one that stopped the batch. Bad input (counts, types, an argument that is no word or view)
// answers -EINVAL and runs nothing; never throws.
Napi::Value IoctlBatch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ToInt32(env, Arg(info, 0), -1);
  uint32_t count = ToUint32(env, Arg(info, 1));
  size_t requestCount = 0, expectCount = 0, resultCount = 0;
  napi_typedarray_type type;
  size_t length;
  napi_value buffer;
  size_t offset;
  bool is = false;
  // requests: Uint32Array, expects: Int32Array, results: Float64Array (exact types, so the
  // element size below is what JS wrote).
  auto typed = [&](size_t i, napi_typedarray_type want, void** out, size_t* elements) {
    napi_value v = Arg(info, i);
    if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
    if (napi_get_typedarray_info(env, v, &type, &length, out, &buffer, &offset) != napi_ok || type != want) return false;
    *elements = length;
    return true;
  };
  void* requestsData = nullptr;
  void* expectsData = nullptr;
  void* resultsData = nullptr;
  if (!typed(2, napi_uint32_array, &requestsData, &requestCount) || !typed(4, napi_int32_array, &expectsData, &expectCount) ||
      !typed(5, napi_float64_array, &resultsData, &resultCount))
    return Num(env, -EINVAL);
  napi_value args = Arg(info, 3);
  uint32_t argCount = 0;
  if (napi_is_array(env, args, &is) != napi_ok || !is || napi_get_array_length(env, args, &argCount) != napi_ok) return Num(env, -EINVAL);
  if (count > requestCount || count > expectCount || count > resultCount || count > argCount) return Num(env, -EINVAL);
  const uint32_t* requests = static_cast<const uint32_t*>(requestsData);
  const int32_t* expects = static_cast<const int32_t*>(expectsData);
  double* results = static_cast<double*>(resultsData);
  // Resolve every argument before the first ioctl: a bad one runs nothing. A fixed bound keeps
  // this allocation-free; a full x86 state sync is 10 ioctls each way.
  constexpr uint32_t kMaxBatch = 64;
  if (count > kMaxBatch) return Num(env, -E2BIG);
  uint64_t words[kMaxBatch];
  for (uint32_t i = 0; i < count; i++) {
    napi_value a;
    if (napi_get_element(env, args, i, &a) != napi_ok || !IoctlArg(env, a, &words[i])) return Num(env, -EINVAL);
  }
  for (uint32_t i = 0; i < count; i++) {
    int64_t r = GuardedIoctl(fd, requests[i], words[i]);
    results[i] = static_cast<double>(r);
    if (r < 0 || (expects[i] >= 0 && r != expects[i])) return Num(env, i);
  }
  return Num(env, count);
}

// KVM_RUN. Never throws, whatever it is given: it runs in vCPU worker threads, where a
// pending exception during worker.terminate() aborted the process. -EPERM in a forked child.
Napi::Value Run(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ToInt32(env, Arg(info, 0), -1);
  if (InForkedChild()) return Num(env, -EPERM);
  int r = ::ioctl(fd, KVM_RUN, 0);
  return Num(env, r < 0 ? -errno : r);
}

Napi::Value EventFd(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint32_t initval = ToUint32(env, Arg(info, 0));
  int flags = ToInt32(env, Arg(info, 1), 0);
  if (InForkedChildStrict()) return Num(env, kForkedRc);
  int fd = ::eventfd(initval, flags | EFD_CLOEXEC);
  return Num(env, fd < 0 ? -errno : fd);
}

// One read of an eventfd's 8-byte counter (which resets it), retried on EINTR: the counter as a
// BigInt, or -errno (-EIO for a short read).
Napi::Value ReadCounter(napi_env env, int fd) {
  uint64_t value = 0;
  ssize_t n;
  do n = ::read(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) return Num(env, -errno);
  if (n != sizeof value) return Num(env, -EIO);
  return Napi::BigInt::New(env, value);
}

// Blocks until the counter is not 0 (a blocking eventfd). The counter as a bigint, or -errno.
Napi::Value EventFdRead(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ToInt32(env, Arg(info, 0), -1);
  if (InForkedChild()) return Num(env, kForkedRc);
  return ReadCounter(env, fd);
}

// Reads the counter only if it is not 0, never blocking (the fd may be a blocking eventfd): a
// zero-timeout poll first. 0 when nothing was waiting. For one reader at a time (the irqfd
// diversion's main thread): a counter seen non-zero by the poll is still non-zero at the read.
Napi::Value EventFdTryRead(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ToInt32(env, Arg(info, 0), -1);
  if (InForkedChild()) return Num(env, kForkedRc);
  struct pollfd p = {fd, POLLIN, 0};
  int ready;
  do ready = ::poll(&p, 1, 0); while (ready < 0 && errno == EINTR);
  if (ready < 0) return Num(env, -errno);
  if (p.revents & POLLNVAL) return Num(env, -EBADF);
  if (ready == 0 || (p.revents & POLLIN) == 0) return Napi::BigInt::New(env, static_cast<uint64_t>(0));
  return ReadCounter(env, fd);
}

Napi::Value EventFdWrite(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int fd = ToInt32(env, Arg(info, 0), -1);
  uint64_t value = ToWord(env, Arg(info, 1));
  if (InForkedChild()) return Num(env, kForkedRc);
  ssize_t n;
  do n = ::write(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) return Num(env, -errno);
  return Num(env, n == sizeof value ? 0 : -EIO);
}

Napi::Value PerfEventOpen(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  void* attr = nullptr;
  size_t length = 0;
  if (!ViewBytes(env, Arg(info, 0), &attr, &length)) return Num(env, -EINVAL);
  // The kernel reads attr->size bytes (0 means the first published size); never let it read
  // past the caller's buffer.
  if (length < PERF_ATTR_SIZE_VER0) return Num(env, -EINVAL);
  uint32_t size;
  memcpy(&size, static_cast<char*>(attr) + offsetof(perf_event_attr, size), sizeof size);
  if (size > length) return Num(env, -EINVAL);
  int pid = ToInt32(env, Arg(info, 1), 0);
  int cpu = ToInt32(env, Arg(info, 2), -1);
  int group = ToInt32(env, Arg(info, 3), -1);
  unsigned long flags = ToUint32(env, Arg(info, 4)) | PERF_FLAG_FD_CLOEXEC;
  if (InForkedChildStrict()) return Num(env, kForkedRc);
  long fd = ::syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
  if (fd >= 0) TrackPerfFd(static_cast<int>(fd));
  return Num(env, fd < 0 ? -errno : fd);
}

Napi::Value GetTid(const Napi::CallbackInfo& info) {
  return Num(info.Env(), static_cast<int64_t>(::syscall(SYS_gettid)));
}

// lseek(fd, offset, whence) → the new offset or -errno. With SEEK_DATA / SEEK_HOLE it walks a
// sparse file's data extents (ENXIO: no data at or after offset).
Napi::Value Lseek(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  double offset = info[1].As<Napi::Number>().DoubleValue();
  int whence = info[2].As<Napi::Number>().Int32Value();
  if (!(offset >= 0)) return Napi::Number::New(info.Env(), -EINVAL);
  off_t r = ::lseek(fd, static_cast<off_t>(offset), whence);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : static_cast<double>(r));
}

// setNonBlocking(fd, on) → the flag as it was (0 or 1), or -errno: O_NONBLOCK set or cleared on
// the fd's open file description, as libuv does for a stream it takes over.
Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int fd = ToInt32(info.Env(), Arg(info, 0), -1);
  bool on = info.Length() > 1 && info[1].ToBoolean().Value();
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return Num(info.Env(), -errno);
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), (flags & O_NONBLOCK) ? 1 : 0);
}

Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Num(info.Env(), static_cast<int64_t>(sysconf(_SC_PAGESIZE)));
}

}  // namespace

uint64_t ToWord(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return 0;
  if (type == napi_bigint) {
    uint64_t out = 0;
    bool lossless;
    // Negative bigints come back in two's complement, which is what a C caller would pass.
    napi_get_value_bigint_uint64(env, value, &out, &lossless);
    return out;
  }
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !std::isfinite(d)) return 0;
  if (d < 0) return static_cast<uint64_t>(static_cast<int64_t>(d));
  if (d >= 18446744073709551616.0) return UINT64_MAX;
  return static_cast<uint64_t>(d);
}

int64_t GuardedIoctl(int fd, uint32_t request, uint64_t arg) {
  if (InForkedChild()) return kForkedRc;
  int r = ::ioctl(fd, static_cast<unsigned long>(request), arg);
  return r < 0 ? -errno : r;
}

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  exports.Set("ioctlBatch", Napi::Function::New(env, IoctlBatch, "ioctlBatch"));
  exports.Set("run", Napi::Function::New(env, Run, "run"));
  exports.Set("eventfd", Napi::Function::New(env, EventFd, "eventfd"));
  exports.Set("eventfdRead", Napi::Function::New(env, EventFdRead, "eventfdRead"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventFdWrite, "eventfdWrite"));
  exports.Set("eventfdTryRead", Napi::Function::New(env, EventFdTryRead, "eventfdTryRead"));
  exports.Set("perfEventOpen", Napi::Function::New(env, PerfEventOpen, "perfEventOpen"));
  exports.Set("gettid", Napi::Function::New(env, GetTid, "gettid"));
  exports.Set("pageSize", Napi::Function::New(env, PageSize, "pageSize"));
  exports.Set("lseek", Napi::Function::New(env, Lseek, "lseek"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
}

}  // namespace kvmts
