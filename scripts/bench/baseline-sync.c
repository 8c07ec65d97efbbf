/*
 * The C baseline of `npm run bench -- sync`: the vCPU state ioctls a VMM written in C issues
 * for the same work as kvmts, on a vCPU set up from the same files as baseline.c (mem.bin,
 * cpuid.bin, sregs.bin, regs.bin) plus msrs.bin (u32 count, then the u32 indices of the MSRs the
 * kvmts context carries).
 *
 * Usage: baseline-sync <dir> <tss-addr> full <round-trips>
 *   In-kernel irqchip and PIT (as archOptions.irqchip 'kernel'), then, timed, <round-trips>
 *   times: every state group read — MP_STATE, REGS, SREGS2, XSAVE2, XCRS, DEBUGREGS, LAPIC,
 *   CPUID2, MSRS, VCPU_EVENTS (the order kvmts pulls them) — then written back in kvmts' push
 *   order, the TSC left out of KVM_SET_MSRS as kvmts leaves it out. SREGS/XSAVE stand in when
 *   KVM lacks KVM_CAP_SREGS2/KVM_CAP_XSAVE2, as in kvmts.
 * Usage: baseline-sync <dir> <tss-addr> rip <warm-up-exits>
 *   No irqchip; runs <warm-up-exits> exits untimed, then times every exit up to the guest's
 *   `out 0xf4`, each followed by KVM_GET_REGS and a read of RIP.
 * Usage: baseline-sync <dir> <tss-addr> rip-sync <warm-up-exits>
 *   The same, with KVM_CAP_SYNC_REGS: kvm_valid_regs = KVM_SYNC_X86_REGS, and RIP read from
 *   kvm_run->s.regs.regs after each exit (no ioctl) — what a C VMM using the cap does.
 * Prints one JSON line: {"ops":<timed ops>,"ns":<elapsed>,"user_ns":…,"sys_ns":…,"check":<xor of
 * what was read, so nothing is optimised away>}.
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

#define BASELINE_NAME "baseline-sync"
#include "baseline-common.h"

#define EXIT_PORT 0xf4
#define MSR_TSC 0x10
#define CPUID_CAPACITY 256

static void xioctl(int fd, unsigned long req, void *arg, const char *what) {
  if (ioctl(fd, req, arg) < 0) die(what);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <dir> <tss-addr> full <round-trips> | rip <warm-up-exits> | rip-sync <warm-up-exits>\n", argv[0]);
    return 64;
  }
  const char *dir = argv[1];
  unsigned long tss = strtoul(argv[2], NULL, 0);
  int full = strcmp(argv[3], "full") == 0;
  int sync_regs = strcmp(argv[3], "rip-sync") == 0;
  unsigned long count = strtoul(argv[4], NULL, 0);

  size_t mem_size, cpuid_size, sregs_size, regs_size, msrs_size;
  void *image = read_file(dir, "mem.bin", &mem_size);
  struct kvm_cpuid2 *cpuid = read_file(dir, "cpuid.bin", &cpuid_size);
  struct kvm_sregs *sregs = read_file(dir, "sregs.bin", &sregs_size);
  struct kvm_regs *regs = read_file(dir, "regs.bin", &regs_size);
  uint32_t *msr_file = read_file(dir, "msrs.bin", &msrs_size);
  if (sregs_size != sizeof *sregs || regs_size != sizeof *regs || msrs_size != 4 * (1 + msr_file[0])) {
    fprintf(stderr, "baseline-sync: the state files do not match <linux/kvm.h>\n");
    return 2;
  }

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, tss) < 0) die("KVM_SET_TSS_ADDR");
  if (full) {
    /* kvmts' order: irqchip, then PIT, both before the vCPU. */
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    xioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
  }
  void *ram = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap guest RAM");
  memcpy(ram, image, mem_size);
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)ram};
  xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
  xioctl(vcpu, KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
  xioctl(vcpu, KVM_SET_REGS, regs, "KVM_SET_REGS");

  uint64_t check = 0, ops = 0, t0, t1;
  struct rusage ru0, ru1;
  if (full) {
    int sregs2 = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0;
    int xsave2 = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    size_t xsave_bytes = xsave2 > 4096 ? (size_t)xsave2 : 4096;
    struct kvm_mp_state mp;
    struct kvm_regs r;
    struct kvm_sregs2 s2;
    struct kvm_sregs s1;
    struct kvm_xsave *xs = calloc(1, xsave_bytes);
    struct kvm_xcrs xcrs;
    struct kvm_debugregs dbg;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_cpuid2 *cp = calloc(1, sizeof *cp + CPUID_CAPACITY * sizeof cp->entries[0]);
    uint32_t n = msr_file[0];
    struct kvm_msrs *get = calloc(1, sizeof *get + n * sizeof get->entries[0]);
    struct kvm_msrs *set = calloc(1, sizeof *set + n * sizeof set->entries[0]);
    if (!xs || !cp || !get || !set) die("calloc");
    get->nmsrs = n;
    for (uint32_t i = 0; i < n; i++) get->entries[i].index = msr_file[1 + i];
    getrusage(RUSAGE_SELF, &ru0);
    t0 = now_ns();
    for (unsigned long k = 0; k < count; k++) {
      xioctl(vcpu, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
      xioctl(vcpu, KVM_GET_REGS, &r, "KVM_GET_REGS");
      if (sregs2) xioctl(vcpu, KVM_GET_SREGS2, &s2, "KVM_GET_SREGS2");
      else xioctl(vcpu, KVM_GET_SREGS, &s1, "KVM_GET_SREGS");
      xioctl(vcpu, xsave2 > 0 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, xs, "KVM_GET_XSAVE2");
      xioctl(vcpu, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS");
      xioctl(vcpu, KVM_GET_DEBUGREGS, &dbg, "KVM_GET_DEBUGREGS");
      xioctl(vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
      cp->nent = CPUID_CAPACITY;
      xioctl(vcpu, KVM_GET_CPUID2, cp, "KVM_GET_CPUID2");
      cp->nent = cpuid->nent; /* KVM leaves nent as passed on success; this program knows the count */
      if (ioctl(vcpu, KVM_GET_MSRS, get) != (int)n) die("KVM_GET_MSRS");
      xioctl(vcpu, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS");
      check ^= r.rip ^ get->entries[0].data ^ events.flags;

      uint32_t m = 0;
      for (uint32_t i = 0; i < n; i++)
        if (get->entries[i].index != MSR_TSC) set->entries[m++] = get->entries[i];
      set->nmsrs = m;
      xioctl(vcpu, KVM_SET_CPUID2, cp, "KVM_SET_CPUID2");
      xioctl(vcpu, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
      xioctl(vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
      if (sregs2) xioctl(vcpu, KVM_SET_SREGS2, &s2, "KVM_SET_SREGS2");
      else xioctl(vcpu, KVM_SET_SREGS, &s1, "KVM_SET_SREGS");
      xioctl(vcpu, KVM_SET_XSAVE, xs, "KVM_SET_XSAVE");
      xioctl(vcpu, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS");
      xioctl(vcpu, KVM_SET_DEBUGREGS, &dbg, "KVM_SET_DEBUGREGS");
      xioctl(vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
      if (ioctl(vcpu, KVM_SET_MSRS, set) != (int)m) die("KVM_SET_MSRS");
      xioctl(vcpu, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
      ops++;
    }
    t1 = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
  } else if (sync_regs) {
    if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
      fprintf(stderr, "baseline-sync: KVM lacks KVM_CAP_SYNC_REGS\n");
      return 2;
    }
    run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    for (unsigned long i = 0; i < count; i++) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN (warm-up)");
      check ^= run->s.regs.regs.rip;
    }
    getrusage(RUSAGE_SELF, &ru0);
    t0 = now_ns();
    for (;;) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      check ^= run->s.regs.regs.rip;
      ops++;
      if (run->exit_reason == KVM_EXIT_IO && run->io.port == EXIT_PORT) break;
    }
    t1 = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
  } else {
    struct kvm_regs r;
    for (unsigned long i = 0; i < count; i++) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN (warm-up)");
      xioctl(vcpu, KVM_GET_REGS, &r, "KVM_GET_REGS");
      check ^= r.rip;
    }
    getrusage(RUSAGE_SELF, &ru0);
    t0 = now_ns();
    for (;;) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      xioctl(vcpu, KVM_GET_REGS, &r, "KVM_GET_REGS");
      check ^= r.rip;
      ops++;
      if (run->exit_reason == KVM_EXIT_IO && run->io.port == EXIT_PORT) break;
    }
    t1 = now_ns();
    getrusage(RUSAGE_SELF, &ru1);
  }
  printf("{\"ops\":%llu,\"ns\":%llu,\"user_ns\":%llu,\"sys_ns\":%llu,\"check\":%llu}\n", (unsigned long long)ops, (unsigned long long)(t1 - t0),
         (unsigned long long)(tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime)), (unsigned long long)(tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime)),
         (unsigned long long)check);
  return 0;
}
