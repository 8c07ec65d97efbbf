/*
 * The C baseline of the `restore` scenario of `npm run bench -- checkpoint`: a warm restore done
 * by a minimal VMM in C — the same checkpoint, into a VM that exists and whose vCPU is up, with
 * the same ioctls and the same bytes as kvmts.
 *
 * The bench (scripts/bench/checkpoint.js, lib/restore-recorder.js) records what one kvmts warm
 * restore of the checkpoint issues — the remap of guest RAM and every ioctl on the VM and vCPU
 * fds, from Machine.restore to the first guest exit — into <state-file>:
 *   records, each: u32 target (0 the VM fd, 1 the vCPU fd), u32 request, u32 kind (0 an integer
 *   argument, 1 a buffer), u32 size (the buffer's bytes; 0 for an integer), then the u64 integer
 *   or the buffer padded to a multiple of 8 bytes.
 * Every request must be one this program knows, and its buffer the size <linux/kvm.h> gives (a
 * variable-length struct: its header's count times the entry size); anything else is refused,
 * which also cross-checks kvmts' layout tables.
 *
 * Usage: baseline-restore <state-file> <image-file> <regions> <tss-addr> <port> <regs-file> <warm-up> <rounds>
 *   <regions>  the checkpoint's memory regions, "gpa:size:file-offset[,…]" (hex or decimal)
 *   <port>     the port of the `out` the restored guest exits on first
 *   <regs-file> struct kvm_regs as kvmts' vCPU holds it at that exit
 * Set-up (untimed): a VM as kvmts' x86 plugin makes it with archOptions.irqchip 'kernel'
 * (KVM_SET_TSS_ADDR, KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2 with SPEAKER_DUMMY), anonymous guest RAM
 * in memory slots, one vCPU with its kvm_run mapped. Then <warm-up> untimed and <rounds> timed
 * restores, each timed (CLOCK_MONOTONIC) from the load request to the first exit:
 *   read <state-file>; open <image-file>, map it over each region's RAM (MAP_PRIVATE |
 *   MAP_NORESERVE | MAP_FIXED, copy-on-write, as kvmts' remap), close it; every recorded ioctl,
 *   its size checked; KVM_RUN to the first exit, then KVM_RUN with immediate_exit set until EINTR
 *   (completing the exit, as kvmts' run does before it returns).
 * After each round (untimed) the restore is checked: the exit is KVM_EXIT_IO, an `out` to <port>,
 * and KVM_GET_REGS equals <regs-file> byte for byte.
 * Prints one JSON line: {"ns":[<per timed round>],"ioctls":<per restore>,"port":<exit port>}.
 *
 * Usage: baseline-restore --check <state-file> <xsave-bytes>
 *   Only reads and checks <state-file> (no KVM; KVM_SET_XSAVE must be <xsave-bytes>): prints
 *   {"ioctls":[<their names, in order>]}, or refuses as above.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BASELINE_NAME "baseline-restore"
#include "baseline-common.h"

#define MAX_REGIONS 8
#define TARGET_VM 0
#define TARGET_VCPU 1

/* Reads the whole of `path` into *buf (grown as needed); returns its length. */
static size_t read_all(const char *path, uint8_t **buf, size_t *capacity) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) < 0) die(path);
  if ((size_t)st.st_size > *capacity) {
    *buf = realloc(*buf, st.st_size);
    if (!*buf) die("realloc");
    *capacity = st.st_size;
  }
  size_t done = 0;
  while (done < (size_t)st.st_size) {
    ssize_t n = read(fd, *buf + done, st.st_size - done);
    if (n <= 0) die(path);
    done += n;
  }
  close(fd);
  return done;
}

/* The requests a warm restore may issue: which fd, and the buffer size <linux/kvm.h> gives. */
enum size_rule { FIXED, CPUID2, MSRS, GSI_ROUTING, XSAVE, INTEGER };
struct known_request {
  unsigned long request;
  const char *name;
  int target;
  enum size_rule rule;
  size_t size;
};
static const struct known_request KNOWN[] = {
    {KVM_SET_CLOCK, "KVM_SET_CLOCK", TARGET_VM, FIXED, sizeof(struct kvm_clock_data)},
    {KVM_SET_PIT2, "KVM_SET_PIT2", TARGET_VM, FIXED, sizeof(struct kvm_pit_state2)},
    {KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", TARGET_VM, FIXED, sizeof(struct kvm_irqchip)},
    {KVM_SET_GSI_ROUTING, "KVM_SET_GSI_ROUTING", TARGET_VM, GSI_ROUTING, sizeof(struct kvm_irq_routing)},
    {KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", TARGET_VM, INTEGER, 0},
    {KVM_SET_CPUID2, "KVM_SET_CPUID2", TARGET_VCPU, CPUID2, sizeof(struct kvm_cpuid2)},
    {KVM_SET_MP_STATE, "KVM_SET_MP_STATE", TARGET_VCPU, FIXED, sizeof(struct kvm_mp_state)},
    {KVM_SET_REGS, "KVM_SET_REGS", TARGET_VCPU, FIXED, sizeof(struct kvm_regs)},
    {KVM_SET_SREGS, "KVM_SET_SREGS", TARGET_VCPU, FIXED, sizeof(struct kvm_sregs)},
    {KVM_SET_SREGS2, "KVM_SET_SREGS2", TARGET_VCPU, FIXED, sizeof(struct kvm_sregs2)},
    {KVM_SET_XSAVE, "KVM_SET_XSAVE", TARGET_VCPU, XSAVE, sizeof(struct kvm_xsave)},
    {KVM_SET_FPU, "KVM_SET_FPU", TARGET_VCPU, FIXED, sizeof(struct kvm_fpu)},
    {KVM_SET_XCRS, "KVM_SET_XCRS", TARGET_VCPU, FIXED, sizeof(struct kvm_xcrs)},
    {KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", TARGET_VCPU, FIXED, sizeof(struct kvm_debugregs)},
    {KVM_SET_LAPIC, "KVM_SET_LAPIC", TARGET_VCPU, FIXED, sizeof(struct kvm_lapic_state)},
    {KVM_SET_MSRS, "KVM_SET_MSRS", TARGET_VCPU, MSRS, sizeof(struct kvm_msrs)},
    {KVM_GET_MSRS, "KVM_GET_MSRS", TARGET_VCPU, MSRS, sizeof(struct kvm_msrs)},
    {KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", TARGET_VCPU, FIXED, sizeof(struct kvm_vcpu_events)},
};

struct record {
  uint32_t target, request, kind, size;
};

/* The size `k` allows for a buffer that starts with `buf` (0 when its header does not fit). */
static size_t allowed_size(const struct known_request *k, const uint8_t *buf, size_t size, size_t xsave_bytes) {
  switch (k->rule) {
    case FIXED: return k->size;
    case INTEGER: return 0;
    case XSAVE: return xsave_bytes;
    case CPUID2: return size < sizeof(struct kvm_cpuid2) ? 0 : sizeof(struct kvm_cpuid2) + ((const struct kvm_cpuid2 *)buf)->nent * sizeof(struct kvm_cpuid_entry2);
    case MSRS: return size < sizeof(struct kvm_msrs) ? 0 : sizeof(struct kvm_msrs) + ((const struct kvm_msrs *)buf)->nmsrs * sizeof(struct kvm_msr_entry);
    case GSI_ROUTING: return size < sizeof(struct kvm_irq_routing) ? 0 : sizeof(struct kvm_irq_routing) + ((const struct kvm_irq_routing *)buf)->nr * sizeof(struct kvm_irq_routing_entry);
  }
  return 0;
}

/* Check and issue every record of `state`; vm CHECK_ONLY checks only, vm CHECK_AND_NAME also prints each name. Returns how many there are. */
enum { CHECK_ONLY = -2, CHECK_AND_NAME = -1 };

static unsigned replay(uint8_t *state, size_t length, int vm, int vcpu, size_t xsave_bytes) {
  unsigned count = 0;
  size_t at = 0;
  while (at < length) {
    if (length - at < sizeof(struct record)) fail("state file: a record header is cut off at byte %llu%.0llu", at, 0);
    struct record r;
    memcpy(&r, state + at, sizeof r);
    at += sizeof r;
    size_t payload = r.kind == 0 ? 8 : (r.size + 7) & ~(size_t)7;
    if (r.kind > 1 || length - at < payload) fail("state file: record at byte %llu is cut off or of kind %llu", at, r.kind);
    const struct known_request *k = NULL;
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
      if (KNOWN[i].request == r.request) k = &KNOWN[i];
    if (!k) fail("ioctl 0x%llx (record %llu) is not one a warm restore issues", r.request, count);
    if ((int)r.target != k->target) fail("ioctl 0x%llx is on the wrong fd (target %llu)", r.request, r.target);
    uint8_t *buf = state + at;
    if (k->rule == INTEGER) {
      if (r.kind != 0) fail("ioctl 0x%llx takes an integer argument%.0llu", r.request, 0);
    } else if (r.kind != 1 || r.size != allowed_size(k, buf, r.size, xsave_bytes)) {
      fprintf(stderr, "baseline-restore: %s: %u bytes recorded, <linux/kvm.h> says %zu\n", k->name, r.size, allowed_size(k, buf, r.size, xsave_bytes));
      exit(2);
    }
    if (vm < 0) {
      if (vm == CHECK_AND_NAME) printf("%s\"%s\"", count ? "," : "", k->name);
      at += payload;
      count++;
      continue;
    }
    int fd = r.target == TARGET_VM ? vm : vcpu;
    uint64_t value;
    memcpy(&value, buf, sizeof value);
    int rc = r.kind == 0 ? ioctl(fd, r.request, (unsigned long)value) : ioctl(fd, r.request, buf);
    if (rc < 0) die(k->name);
    /* KVM_SET_MSRS / KVM_GET_MSRS answer how many entries they did: all of them, or the restore is partial. */
    if (k->rule == MSRS && (uint32_t)rc != ((struct kvm_msrs *)buf)->nmsrs) {
      fprintf(stderr, "baseline-restore: %s did %d of %u MSRs\n", k->name, rc, ((struct kvm_msrs *)buf)->nmsrs);
      exit(2);
    }
    at += payload;
    count++;
  }
  return count;
}

struct region {
  uint64_t gpa, size, offset;
  uint8_t *ram;
};

static unsigned parse_regions(const char *text, struct region *out) {
  unsigned n = 0;
  const char *p = text;
  while (*p) {
    if (n == MAX_REGIONS) fail("more than %llu regions%.0llu", MAX_REGIONS, 0);
    char *end;
    out[n].gpa = strtoull(p, &end, 0);
    if (*end != ':') fail("regions: expected gpa:size:offset at character %llu%.0llu", p - text, 0);
    out[n].size = strtoull(end + 1, &end, 0);
    if (*end != ':') fail("regions: expected gpa:size:offset at character %llu%.0llu", p - text, 0);
    out[n].offset = strtoull(end + 1, &end, 0);
    if (*end != ',' && *end != 0) fail("regions: unexpected character at %llu%.0llu", end - text, 0);
    if (out[n].size == 0 || out[n].size % 4096 || out[n].offset % 4096) fail("region %llu is not whole pages%.0llu", n, 0);
    n++;
    p = *end ? end + 1 : end;
  }
  if (n == 0) fail("no regions%.0llu%.0llu", 0, 0);
  return n;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--check") == 0) {
    uint8_t *state = NULL;
    size_t capacity = 0;
    size_t length = read_all(argv[2], &state, &capacity);
    size_t xsave_bytes = strtoul(argv[3], NULL, 0);
    /* Refuse a bad file before printing anything: a refusal leaves no half JSON line behind. */
    replay(state, length, CHECK_ONLY, -1, xsave_bytes);
    printf("{\"ioctls\":[");
    replay(state, length, CHECK_AND_NAME, -1, xsave_bytes);
    printf("]}\n");
    return 0;
  }
  if (argc != 9) {
    fprintf(stderr, "usage: %s <state-file> <image-file> <regions> <tss-addr> <port> <regs-file> <warm-up> <rounds>\n", argv[0]);
    return 64;
  }
  const char *state_path = argv[1], *image_path = argv[2];
  struct region regions[MAX_REGIONS];
  unsigned nregions = parse_regions(argv[3], regions);
  unsigned long tss = strtoul(argv[4], NULL, 0);
  unsigned port = (unsigned)strtoul(argv[5], NULL, 0);
  unsigned long warmup = strtoul(argv[7], NULL, 0), rounds = strtoul(argv[8], NULL, 0);
  uint8_t *expected_regs = NULL;
  size_t regs_capacity = 0;
  if (read_all(argv[6], &expected_regs, &regs_capacity) != sizeof(struct kvm_regs)) fail("regs file: not a struct kvm_regs (%llu bytes)%.0llu", sizeof(struct kvm_regs), 0);
  if (rounds == 0 || rounds > 1000) fail("rounds %llu out of range%.0llu", rounds, 0);

  /* Set-up, untimed: the VM kvmts' x86 plugin makes (irqchip 'kernel'), its RAM and its vCPU. */
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, tss) < 0) die("KVM_SET_TSS_ADDR");
  if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
  struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
  if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0) die("KVM_CREATE_PIT2");
  for (unsigned i = 0; i < nregions; i++) {
    regions[i].ram = mmap(NULL, regions[i].size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (regions[i].ram == MAP_FAILED) die("mmap guest RAM");
    struct kvm_userspace_memory_region slot = {.slot = i, .guest_phys_addr = regions[i].gpa, .memory_size = regions[i].size, .userspace_addr = (uintptr_t)regions[i].ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0) die("KVM_SET_USER_MEMORY_REGION");
  }
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  /* KVM_SET_XSAVE takes KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes where that is larger (api.rst). */
  int xsave2 = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  size_t xsave_bytes = xsave2 > (int)sizeof(struct kvm_xsave) ? (size_t)xsave2 : sizeof(struct kvm_xsave);

  uint8_t *state = NULL;
  size_t state_capacity = 0;
  uint64_t *ns = calloc(rounds, sizeof *ns);
  if (!ns) die("calloc");
  unsigned ioctls = 0;
  struct kvm_regs regs;
  for (unsigned long r = 0; r < warmup + rounds; r++) {
    uint64_t t0 = now_ns();
    size_t length = read_all(state_path, &state, &state_capacity);
    int image = open(image_path, O_RDONLY | O_CLOEXEC);
    if (image < 0) die(image_path);
    for (unsigned i = 0; i < nregions; i++) {
      if (mmap(regions[i].ram, regions[i].size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, image, regions[i].offset) == MAP_FAILED) die("mmap the image over guest RAM");
    }
    close(image);
    ioctls = replay(state, length, vm, vcpu, xsave_bytes);
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    /* The first exit is the guest's `out` to <port>. */
    if (run->exit_reason != KVM_EXIT_IO) fail("round %llu: the first exit is reason %llu, not KVM_EXIT_IO", r, run->exit_reason);
    if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != port) fail("round %llu: the first exit is I/O on port 0x%llx, not the expected out", r, run->io.port);
    /* Complete the I/O as kvmts does before its run returns (api.rst: state is read only after
       KVM_RUN has completed the exit): enter with immediate_exit set until KVM answers EINTR. */
    run->immediate_exit = 1;
    int completions = 0;
    while (ioctl(vcpu, KVM_RUN, 0) == 0)
      if (++completions > 16) fail("round %llu: completing the exit took more than %llu entries", r, 16);
    if (errno != EINTR) die("KVM_RUN (completing the exit)");
    run->immediate_exit = 0;
    uint64_t t1 = now_ns();
    if (r >= warmup) ns[r - warmup] = t1 - t0;

    /* Did it restore? kvmts' registers at that exit, byte for byte. */
    if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
    if (memcmp(&regs, expected_regs, sizeof regs) != 0) {
      const uint64_t *got = (const uint64_t *)&regs, *want = (const uint64_t *)expected_regs;
      for (size_t i = 0; i < sizeof regs / 8; i++)
        if (got[i] != want[i]) {
          fprintf(stderr, "baseline-restore: round %lu: registers differ from kvmts' at kvm_regs offset %zu: 0x%llx here, 0x%llx in kvmts\n", r, i * 8, (unsigned long long)got[i], (unsigned long long)want[i]);
          exit(2);
        }
    }
  }
  printf("{\"ns\":[");
  for (unsigned long r = 0; r < rounds; r++) printf("%s%llu", r ? "," : "", (unsigned long long)ns[r]);
  qsort(ns, rounds, sizeof *ns, cmp_u64);
  printf("],\"median_ns\":%llu,\"ioctls\":%u,\"port\":%u}\n", (unsigned long long)ns[rounds / 2], ioctls, port);
  return 0;
}
