/**
 * `kvmts boot --memory-steps` (src/memory-steps.ts): a step from golden /proc text and heap
 * figures, which argv asks for the steps, and a step sampled from this process.
 */
import { memoryStepFrom, memoryStepsWanted, recordMemoryStep, recordedMemorySteps, statusThreads } from '../src/memory-steps';

const STATUS = `Name:\tnode
VmHWM:\t  130000 kB
VmRSS:\t  120000 kB
RssAnon:\t   50000 kB
RssFile:\t   30000 kB
RssShmem:\t   40000 kB
Threads:\t8
`;

const SMAPS = `55d0c0a00000-55d0c0b00000 r-xp 00000000 08:01 1234 /usr/bin/node
Rss:                 800 kB
7f2000000000-7f2040000000 rw-s 00000000 00:01 99 /memfd:ram (deleted)
Size:            1048576 kB
Rss:               36000 kB
`;

const MiB = 1024 * 1024;
const HEAP = { used_heap_size: 9 * MiB, total_heap_size: 18 * MiB + 512, external_memory: 33 * MiB };

describe('memory steps', () => {
  it('splits a step into guest RAM, the VMM share, the kinds of resident memory and the heaps', () => {
    const step = memoryStepFrom('machine-built', 1234.56, STATUS, { smaps: SMAPS, starts: [0x7f2000000000n] }, HEAP, [
      { usedHeapBytes: 7 * MiB, totalHeapBytes: 12 * MiB, externalBytes: 4 * 1024 },
    ], { arenaBytes: 6 * MiB, inUseBytes: 2 * MiB + 512, freeBytes: 4 * MiB - 512, mmappedBytes: 1 * MiB });
    expect(step).toEqual({
      step: 'machine-built',
      ms: 1234.6,
      rssKiB: 120000,
      guestRssKiB: 36000,
      vmmRssKiB: 84000,
      anonKiB: 50000,
      fileKiB: 30000,
      shmemKiB: 40000,
      threads: 8,
      heap: { usedKiB: 9216, totalKiB: 18433, externalKiB: 33792 },
      vcpuHeaps: [{ usedKiB: 7168, totalKiB: 12288, externalKiB: 4 }],
      malloc: { arenaKiB: 6144, inUseKiB: 2049, freeKiB: 4096, mmappedKiB: 1024 },
    });
  });

  it('before the machine there is no guest RAM: the VMM share is the whole resident set', () => {
    const step = memoryStepFrom('node-started', 40, STATUS, undefined, HEAP);
    expect([step.guestRssKiB, step.vmmRssKiB, 'vcpuHeaps' in step, 'malloc' in step]).toEqual([0, 120000, false, false]);
  });

  it('reads the thread count, and says so when /proc has none', () => {
    expect(statusThreads(STATUS)).toBe(8);
    expect(() => statusThreads('Name:\tnode\n')).toThrow('/proc status has no Threads line');
  });

  it('is asked for by `kvmts boot … --memory-steps` only', () => {
    expect(memoryStepsWanted(['node', 'kvmts', 'boot', '--kernel', 'k', '--json', '--memory-steps'])).toBe(true);
    expect(memoryStepsWanted(['node', 'kvmts', 'boot', '--kernel', 'k', '--json'])).toBe(false);
    expect(memoryStepsWanted(['node', 'kvmts', 'run', '--memory-steps'])).toBe(false);
    expect(memoryStepsWanted(['node', 'kvmts'])).toBe(false);
  });

  it('samples this process and keeps the steps in order', () => {
    const before = recordedMemorySteps().length;
    const a = recordMemoryStep('first');
    const b = recordMemoryStep('second', []);
    expect(recordedMemorySteps().slice(before)).toEqual([a, b]);
    expect(a.rssKiB).toBeGreaterThan(10_000);
    expect(a.anonKiB + a.fileKiB + a.shmemKiB).toBeLessThanOrEqual(a.rssKiB + 1024);
    expect(a.threads).toBeGreaterThanOrEqual(1);
    expect(a.heap.usedKiB).toBeGreaterThan(0);
    expect(b.ms).toBeGreaterThanOrEqual(a.ms);
  });
});
