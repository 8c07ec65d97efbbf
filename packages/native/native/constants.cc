// Flag values straight from the C headers, so TypeScript never hard-codes them.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <unistd.h>

#include "common.h"

namespace kvmts {

void InitConstants(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    int value;
  };
  static const Entry kConstants[] = {
      {"O_RDONLY", O_RDONLY},       {"O_RDWR", O_RDWR},
      {"O_CLOEXEC", O_CLOEXEC},     {"O_NONBLOCK", O_NONBLOCK},
      {"PROT_NONE", PROT_NONE},     {"PROT_READ", PROT_READ},
      {"PROT_WRITE", PROT_WRITE},   {"PROT_EXEC", PROT_EXEC},
      {"MAP_SHARED", MAP_SHARED},   {"MAP_PRIVATE", MAP_PRIVATE},
      {"MAP_ANONYMOUS", MAP_ANONYMOUS}, {"MAP_NORESERVE", MAP_NORESERVE},
      {"EFD_CLOEXEC", EFD_CLOEXEC}, {"EFD_NONBLOCK", EFD_NONBLOCK},
      {"EFD_SEMAPHORE", EFD_SEMAPHORE},
      {"SEEK_DATA", SEEK_DATA},     {"SEEK_HOLE", SEEK_HOLE},
  };
  Napi::Object constants = Napi::Object::New(env);
  for (const Entry& e : kConstants) constants.Set(e.name, Napi::Number::New(env, e.value));
  constants.Freeze();
  exports.Set("constants", constants);
}

}  // namespace kvmts
