// Test support for the fork rule: fork, run the guarded ioctl path in the child, send the
// outcome back through a pipe, _exit. The child only calls async-signal-tolerant code
// (ioctl, snprintf into fixed buffers, write): other threads' locks are not copied sanely.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace kvmts {
namespace {

struct ProbeReport {
  int64_t rc;
  // fcntl(watchFd, F_GETFD) in the child: >= 0 while the fd is open there, -errno once closed.
  int64_t watchRc;
  char code[32];
  char message[320];
};

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

size_t ReadAll(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// forkProbe(fd, request, arg) → [childRc, code, message], or a number (-errno) when fork,
// pipe or waitpid failed in the parent.
Napi::Value ForkProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t request = info[1].As<Napi::Number>().Uint32Value();
  uint64_t arg = info[2].IsUndefined() ? 0 : ToWord(env, info[2]);
  int watchFd = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return Napi::Number::New(env, -errno);
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Napi::Number::New(env, -err);
  }
  if (child == 0) {
    ::close(fds[0]);
    ProbeReport report;
    memset(&report, 0, sizeof report);
    report.rc = GuardedIoctl(fd, request, arg);
    int w = watchFd >= 0 ? ::fcntl(watchFd, F_GETFD) : -1;
    report.watchRc = w < 0 ? -errno : w;
    if (report.rc < 0) {
      DescribeFailure("ioctl", report.rc, report.code, sizeof report.code, report.message,
                      sizeof report.message);
    }
    _exit(WriteAll(fds[1], reinterpret_cast<const char*>(&report), sizeof report) ? 0 : 1);
  }
  ::close(fds[1]);
  ProbeReport report;
  memset(&report, 0, sizeof report);
  size_t got = ReadAll(fds[0], reinterpret_cast<char*>(&report), sizeof report);
  ::close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return Napi::Number::New(env, -errno);
  }
  if (got != sizeof report || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Napi::Number::New(env, -EPIPE);
  }
  report.code[sizeof report.code - 1] = '\0';
  report.message[sizeof report.message - 1] = '\0';
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(report.rc)));
  out.Set(1u, Napi::String::New(env, report.code));
  out.Set(2u, Napi::String::New(env, report.message));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(report.watchRc)));
  return out;
}

}  // namespace

void InitForkProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("forkProbe", Napi::Function::New(env, ForkProbe, "forkProbe"));
}

}  // namespace kvmts
