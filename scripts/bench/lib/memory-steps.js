'use strict';
/**
 * The table of `kvmts boot --memory-steps` (packages/cli/src/memory-steps.ts): one row per
 * step, MiB. Pure: scripts/bench/boot-memory.js prints it, packages/cli/test tests it.
 */

// The resident kinds are as /proc says them: guest RAM is anonymous or shared memory by its
// backing, so it is a column of its own rather than taken out of either. Heap "external" counts
// the guest RAM views too (V8 is told their size), resident or not: it is not a resident figure.
const HEADER = ['step', 't s', 'beyond guest RAM', 'over bare node', 'guest RAM', 'anon', 'file', 'shmem', 'main heap used/total', 'main external', 'vCPU heaps used/total', 'C heap in use/free'];

const mib = (kib) => (kib / 1024).toFixed(1);

/** Rows (arrays of cells, the header first) for `steps` against a bare Node's VmRSS `bareKiB`. */
function stepRows(steps, bareKiB) {
  const rows = [HEADER];
  for (const s of steps) {
    const vcpu = s.vcpuHeaps
      ? `${mib(s.vcpuHeaps.reduce((n, h) => n + h.usedKiB, 0))}/${mib(s.vcpuHeaps.reduce((n, h) => n + h.totalKiB, 0))}`
      : '';
    rows.push([s.step, (s.ms / 1000).toFixed(2), mib(s.vmmRssKiB), mib(s.vmmRssKiB - bareKiB), mib(s.guestRssKiB), mib(s.anonKiB), mib(s.fileKiB), mib(s.shmemKiB),
      `${mib(s.heap.usedKiB)}/${mib(s.heap.totalKiB)}`, mib(s.heap.externalKiB), vcpu,
      // The C heap (every arena): in use, and free but kept by the allocator (resident or not).
      s.malloc ? `${mib(s.malloc.inUseKiB + s.malloc.mmappedKiB)}/${mib(s.malloc.freeKiB)}` : '']);
  }
  return rows;
}

/** Rows as aligned text lines: the first column left-aligned, the others right-aligned. */
function formatRows(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
}

module.exports = { stepRows, formatRows };
