/**
 * The pure parts of scripts/bench/boot-memory.js: its command line and the per-step table
 * (lib/memory-steps.js) on golden steps. The probe itself is run, not tested
 * (scripts/bench/README.md, `boot`, has its figures).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const { stepRows, formatRows } = require('../../../scripts/bench/lib/memory-steps.js') as {
  stepRows(steps: unknown[], bareKiB: number): string[][];
  formatRows(rows: string[][]): string[];
};
const { parseCommandLine } = require('../../../scripts/bench/boot-memory.js') as { parseCommandLine(argv: string[]): Record<string, unknown> };
/* eslint-enable @typescript-eslint/no-require-imports */

const heap = (usedKiB: number, totalKiB: number, externalKiB = 0) => ({ usedKiB, totalKiB, externalKiB });

describe('bench boot-memory', () => {
  it('takes --arch, --cpus, --runs, --before, --young-gen and --json, and names what it does not know', () => {
    expect(parseCommandLine(['--arch', 'arm64'])).toMatchObject({ arch: 'arm64', cpus: 1, runs: 2, before: undefined, youngGen: false, json: false });
    expect(parseCommandLine(['--arch', 'arm64', '--young-gen'])).toMatchObject({ youngGen: true });
    expect(parseCommandLine(['--arch', 'x86_64', '--cpus', '2', '--runs', '3', '--json'])).toMatchObject({ arch: 'x86_64', cpus: 2, runs: 3, json: true });
    expect(parseCommandLine(['--arch', 'arm64', '--before', __filename])).toMatchObject({ before: __filename });
    expect(() => parseCommandLine(['--arch', 'riscv'])).toThrow('--arch riscv: known are arm64, x86_64');
    expect(() => parseCommandLine(['--arch', 'arm64', '--runs', '0'])).toThrow('--runs expects a whole number ≥ 1');
    expect(() => parseCommandLine(['--arch', 'arm64', '--before', '/no/such/bin.js'])).toThrow('--before /no/such/bin.js: no such file');
    expect(() => parseCommandLine(['--arch', 'arm64', '--fast'])).toThrow('unknown option --fast');
    expect(() => parseCommandLine(['--arch'])).toThrow('--arch needs a value');
  });

  it('makes one row per step in MiB: beyond guest RAM, over a bare Node, guest RAM, the resident kinds, both heaps', () => {
    const steps = [
      { step: 'node-started', ms: 41.2, rssKiB: 40960, guestRssKiB: 0, vmmRssKiB: 40960, anonKiB: 6144, fileKiB: 34816, shmemKiB: 0, threads: 7, heap: heap(3584, 4096, 1024) },
      {
        step: 'machine-built', ms: 3817.5, rssKiB: 153600, guestRssKiB: 35840, vmmRssKiB: 117760, anonKiB: 76800, fileKiB: 40960, shmemKiB: 35840, threads: 8,
        heap: heap(13312, 21504, 35840), vcpuHeaps: [heap(9216, 16384), heap(1024, 2048)],
        malloc: { arenaKiB: 8192, inUseKiB: 2048, freeKiB: 6144, mmappedKiB: 1024 },
      },
    ];
    const rows = stepRows(steps, 40960);
    expect(rows).toEqual([
      ['step', 't s', 'beyond guest RAM', 'over bare node', 'guest RAM', 'anon', 'file', 'shmem', 'main heap used/total', 'main external', 'vCPU heaps used/total', 'C heap in use/free'],
      ['node-started', '0.04', '40.0', '0.0', '0.0', '6.0', '34.0', '0.0', '3.5/4.0', '1.0', '', ''],
      ['machine-built', '3.82', '115.0', '75.0', '35.0', '75.0', '40.0', '35.0', '13.0/21.0', '35.0', '10.0/18.0', '3.0/6.0'],
    ]);
    expect(formatRows(rows)[1]).toBe('node-started   0.04              40.0             0.0        0.0   6.0  34.0    0.0               3.5/4.0            1.0');
  });
});
