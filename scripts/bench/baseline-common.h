/*
 * What the C baselines (baseline.c, baseline-sync.c, baseline-restore.c) share: failing with a
 * message under the program's name, the monotonic clock, and reading an input file whole.
 * Each program defines BASELINE_NAME before including this. Header-only and `static inline`
 * (no unused-function warnings under -Wall), so `gcc -O2 <program>.c` still builds each one
 * alone: the include resolves beside the source.
 */
#ifndef KVMTS_BASELINE_COMMON_H
#define KVMTS_BASELINE_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* A system call failed: `what` and errno, exit 1 (no valid measurement). */
static inline void die(const char *what) {
  fprintf(stderr, BASELINE_NAME ": %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Bad input (a size or record that does not fit): the message, exit 2. `fmt` takes exactly two
 * unsigned long longs; a message with one gives its second as `%.0llu` of 0, which prints nothing. */
static inline void fail(const char *fmt, unsigned long long a, unsigned long long b) {
  fprintf(stderr, BASELINE_NAME ": ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(2);
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline uint64_t tv_ns(struct timeval tv) { return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull; }

/* Reads <dir>/<name> into a malloc'd buffer; *size gets its length. */
static inline void *read_file(const char *dir, const char *name, size_t *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) < 0) die(path);
  void *buf = malloc(st.st_size ? st.st_size : 1);
  if (!buf) die("malloc");
  size_t done = 0;
  while (done < (size_t)st.st_size) {
    ssize_t n = read(fd, (char *)buf + done, st.st_size - done);
    if (n <= 0) die(path);
    done += n;
  }
  close(fd);
  *size = done;
  return buf;
}

#endif
