/*
 * The C baseline of `npm run bench -- exits`: the bare KVM_RUN loop a minimal VMM would run,
 * on the same guest bytes and the same initial state as kvmts.
 *
 * The bench (scripts/bench/exits.js) prepares a kvmts VM and writes what it loaded into <dir>:
 *   mem.bin    guest RAM from GPA 0 (image, GDT, page tables: everything prepareBoot wrote)
 *   cpuid.bin  struct kvm_cpuid2 + entries (KVM_SET_CPUID2; long mode needs it)
 *   sregs.bin  struct kvm_sregs as the kvmts vCPU holds it after applyInitialState
 *   regs.bin   struct kvm_regs, likewise
 * The struct sizes are checked against this compiler's <linux/kvm.h>, which also cross-checks
 * kvmts' layout tables.
 *
 * Usage: baseline <dir> <tss-addr> <expected-exit-reason> <warm-up-exits>
 * Runs <warm-up-exits> exits untimed, then times (CLOCK_MONOTONIC, around the loop only) every
 * exit up to and including the guest's final `out 0xf4`. Every exit must be the expected kind.
 * Prints one JSON line: {"exits":<timed exits>,"ns":<elapsed ns>,"user_ns":<user CPU ns>,
 * "sys_ns":<system CPU ns>,"warmup":<warm-up exits>}; the CPU times (getrusage, same window)
 * show how much of an exit is spent in the VMM's own user-mode code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BASELINE_NAME "baseline"
#include "baseline-common.h"

#define EXIT_PORT 0xf4

static void expect_size(const char *name, size_t got, size_t want) {
  if (got != want) {
    fprintf(stderr, "baseline: %s is %zu bytes, <linux/kvm.h> says %zu\n", name, got, want);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <dir> <tss-addr> <expected-exit-reason> <warm-up-exits>\n", argv[0]);
    return 64;
  }
  const char *dir = argv[1];
  unsigned long tss = strtoul(argv[2], NULL, 0);
  unsigned expected = (unsigned)strtoul(argv[3], NULL, 0);
  unsigned long warmup = strtoul(argv[4], NULL, 0);

  size_t mem_size, cpuid_size, sregs_size, regs_size;
  void *image = read_file(dir, "mem.bin", &mem_size);
  struct kvm_cpuid2 *cpuid = read_file(dir, "cpuid.bin", &cpuid_size);
  struct kvm_sregs *sregs = read_file(dir, "sregs.bin", &sregs_size);
  struct kvm_regs *regs = read_file(dir, "regs.bin", &regs_size);
  expect_size("sregs.bin", sregs_size, sizeof *sregs);
  expect_size("regs.bin", regs_size, sizeof *regs);
  if (cpuid_size < sizeof *cpuid) expect_size("cpuid.bin", cpuid_size, sizeof *cpuid);
  expect_size("cpuid.bin", cpuid_size, sizeof *cpuid + cpuid->nent * sizeof cpuid->entries[0]);
  if (mem_size == 0 || mem_size % 4096) fail("mem.bin size %llu is not a whole number of pages%.0llu", mem_size, 0);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, tss) < 0) die("KVM_SET_TSS_ADDR");

  void *ram = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap guest RAM");
  memcpy(ram, image, mem_size);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  /* kvmts' order: CPUID first, then special registers, then general registers. */
  if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
  if (ioctl(vcpu, KVM_SET_SREGS, sregs) < 0) die("KVM_SET_SREGS");
  if (ioctl(vcpu, KVM_SET_REGS, regs) < 0) die("KVM_SET_REGS");

  for (unsigned long i = 0; i < warmup; i++) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN (warm-up)");
    if (run->exit_reason != expected) fail("warm-up exit %llu: exit reason %llu", i, run->exit_reason);
  }

  /* The timed loop: what any VMM must do per exit — enter, read the reason, find the end. */
  uint64_t exits = 0;
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  uint64_t t0 = now_ns();
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    exits++;
    if (run->exit_reason == KVM_EXIT_IO && run->io.port == EXIT_PORT) break;
    if (run->exit_reason != expected) fail("exit %llu: unexpected exit reason %llu", exits, run->exit_reason);
  }
  uint64_t t1 = now_ns();
  getrusage(RUSAGE_SELF, &ru1);

  printf("{\"exits\":%llu,\"ns\":%llu,\"user_ns\":%llu,\"sys_ns\":%llu,\"warmup\":%lu}\n", (unsigned long long)exits,
         (unsigned long long)(t1 - t0), (unsigned long long)(tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime)),
         (unsigned long long)(tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime)), warmup);
  return 0;
}
