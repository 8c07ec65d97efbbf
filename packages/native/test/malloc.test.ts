/**
 * mallocStats/mallocTrim against the real C heap (mallocTrim in a quiet child process): Node allocates an
 * ArrayBuffer's backing store with malloc, so buffers made here must show up in the figures
 * (this host is glibc ≥ 2.33, so mallinfo2 is there; elsewhere the call says undefined).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { mallocStats, type MallocStats } from '../src';
import { ensureDistBuilt } from './support/dist';
import { forceGc, settledHeap } from './support/gc';

const MiB = 1 << 20;

function stats(): MallocStats {
  const s = mallocStats();
  if (s === undefined) throw new TypeError('this host has glibc: mallinfo2 should be there');
  return s;
}

/** Give V8 the time to free dropped backing stores (its array-buffer sweeper may run off-thread). */
async function collected(until: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !until(); i++) {
    forceGc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return until();
}

describe('mallocStats: the C heap over all arenas', () => {
  it('accounts for every arena byte as in use or free', () => {
    const s = stats();
    // mallinfo2: uordblks = system_mem − free, summed per arena, so the two add up to `arena`.
    expect(s.inUseBytes + s.freeBytes).toBe(s.arenaBytes);
    expect(s.inUseBytes).toBeGreaterThan(0);
    expect(s.releasableBytes).toBeLessThanOrEqual(s.freeBytes);
  });

  it('counts small allocations as in use in the arenas, and not after they are freed', async () => {
    // Earlier garbage collected and its backing stores freed first (V8 frees them off-thread,
    // after the collection returns): they would otherwise leave the heap while these arrive.
    await settledHeap(() => stats().inUseBytes);
    const before = stats();
    // 2048 × 4 KiB: far below the mmap threshold, so they come out of the arenas.
    let small: Buffer[] | undefined = Array.from({ length: 2048 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
    const held = stats();
    // 8 MiB, less what the process's other threads (V8's, jest's) freed meanwhile: slack of 2 MiB.
    expect(held.inUseBytes - before.inUseBytes).toBeGreaterThanOrEqual(6 * MiB);
    expect(held.inUseBytes - before.inUseBytes).toBeLessThan(16 * MiB);
    expect(small.length).toBe(2048);
    small = undefined;
    expect(await collected(() => stats().inUseBytes < held.inUseBytes - 6 * MiB)).toBe(true);
  });

  it('counts a large allocation at its size, gone once freed', async () => {
    // 64 MiB is above glibc's largest mmap threshold (32 MiB on 64-bit), so it is mmapped on its
    // own — unless the main arena's top already has that much free (a jest worker that ran other
    // suites), when it comes from there: counted either way, in use or mmapped.
    const heldBytes = (x: MallocStats): number => x.inUseBytes + x.mmappedBytes;
    const before = stats();
    let big: Buffer | undefined = Buffer.allocUnsafeSlow(64 * MiB).fill(2);
    const held = stats();
    expect(heldBytes(held) - heldBytes(before)).toBeGreaterThanOrEqual(63 * MiB);
    expect(heldBytes(held) - heldBytes(before)).toBeLessThan(66 * MiB);
    expect(big.length).toBe(64 * MiB);
    big = undefined;
    expect(await collected(() => heldBytes(stats()) <= heldBytes(held) - 63 * MiB)).toBe(true);
  });
});

describe('mallocTrim', () => {
  // In a child of its own (fixtures/trim-child.js): in this jest worker V8's off-thread sweeper
  // frees dead backing stores into the main arena whenever it likes, and CI saw 4 MiB of free top
  // come back between a trim and the read after it. With V8's background threads off, the
  // child's reads see what the trim left.
  interface Heap {
    freeBytes: number;
    releasableBytes: number;
    heapResidentBytes: number;
  }
  interface TrimReport {
    heldCount: number;
    trimmed: boolean;
    before: Heap;
    after: Heap;
  }
  let report: TrimReport;
  beforeAll(() => {
    const child = path.join(__dirname, 'fixtures', 'trim-child.js');
    const args = ['--single-threaded', '--expose-gc', child, ensureDistBuilt()];
    report = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 })) as TrimReport;
  });

  it('gives the main arena\'s free memory back to the system, not only its top', () => {
    expect(report.heldCount).toBe(4096);
    // The control: the 8 MiB freed is free in the arena and still resident (9.2–9.7 MiB here).
    expect(report.before.freeBytes).toBeGreaterThanOrEqual(6 * MiB);
    const given = report.before.heapResidentBytes - report.after.heapResidentBytes;
    expect(report.trimmed).toBe(true);
    // Most of it lies below live chunks, where only malloc_trim's madvise reaches: 9.0 MiB here.
    expect(given).toBeGreaterThanOrEqual(6 * MiB);
  });

  it('leaves less than 64 KiB of free top behind', () => {
    // malloc_trim(0) keeps less than a page (plus glibc's top pad) of free top; 64 KiB bounds both.
    expect(report.after.releasableBytes).toBeLessThan(64 * 1024);
  });
});
