/**
 * The pure parts of scripts/bench/boot-startup.js: its command line, the start-up phases of one
 * boot from its --json steps and the code-cache loader's trace (lib/startup-breakdown.js), and
 * a CPU profile summed by function (lib/cpuprofile.js), on golden input. The probe itself is
 * run, not tested (scripts/bench/README.md, `boot`, has its figures).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
type Phases = { main: [string, number | null][]; worker: [string, number | null][]; startMs: number; codeCache: { cli: string | null; worker: string | null } };
const { parseCodeCacheTrace, startupPhases, medianPhases, phaseTable } = require('../../../scripts/bench/lib/startup-breakdown.js') as {
  parseCodeCacheTrace(stderr: string): Record<string, Record<string, unknown>>;
  startupPhases(summary: unknown, stderr: string): Phases;
  medianPhases(boots: Phases[]): Omit<Phases, 'codeCache'>;
  phaseTable(sides: Record<string, Omit<Phases, 'codeCache'>>): string[];
};
const { summarizeCpuProfile } = require('../../../scripts/bench/lib/cpuprofile.js') as {
  summarizeCpuProfile(profile: unknown, options?: { until?: number }): { totalMs: number; self: [string, number][]; inclusive: [string, number][] };
};
const { parseCommandLine, rotated } = require('../../../scripts/bench/boot-startup.js') as { parseCommandLine(argv: string[]): Record<string, unknown>; rotated<T>(list: T[], n: number): T[] };
/* eslint-enable @typescript-eslint/no-require-imports */

/** An older build's trace: no start-up lines, its times "after the thread started". */
const OLD_STDERR = [
  'kvmts: code cache: kvmts.js used /tmp/.cache/kvmts/code-cache/kvmts.js.b97630a99cd0cb88.boot.cache (read and check 120.5 ms, compile 210.0 ms; 1010.5 ms after the thread started)',
  'kvmts: code cache: kvmts.js evaluated in 900.0 ms (1910.5 ms after the thread started)',
  'kvmts: code cache: vcpu-worker.js used /tmp/.cache/kvmts/code-cache/vcpu-worker.js.d8e8a759a3c38f63.cache (read and check 100.0 ms, compile 200.0 ms; 600.0 ms after the thread started)',
  'kvmts: code cache: vcpu-worker.js evaluated in 150.0 ms (750.0 ms after the thread started)',
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]',
  'kvmts: code cache: kvmts.js process exits 6000.0 ms after it started',
].join('\n');

/** This build's: the threads started by bin.js, a thread's bootstrap, every time on the process's clock. */
const STDERR = [
  'kvmts: start-up: 1 vCPU thread(s) started at 500.0 ms after the process started',
  "kvmts: code cache: kvmts.js used /tmp/c/kvmts.js.b97630a99cd0cb88.boot.cache (read and check 120.5 ms, compile 210.0 ms; 1010.5 ms after the process started; key from the build's digest)",
  'kvmts: start-up: vCPU thread bootstrapped (Node worker start-up done) at 1900.0 ms after the process started',
  'kvmts: code cache: kvmts.js evaluated in 900.0 ms (1910.5 ms after the process started)',
  "kvmts: code cache: vcpu-worker.js used /tmp/c/vcpu-worker.js.d8e8a759a3c38f63.cache (read and check 100.0 ms, compile 200.0 ms; 2400.0 ms after the process started; key from the build's digest)",
  'kvmts: code cache: vcpu-worker.js evaluated in 150.0 ms (2550.0 ms after the process started)',
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]',
].join('\n');

const SUMMARY = {
  startMs: 3100,
  startupSteps: { 'cli-loaded': 1300, 'kernel-opened': 1700, 'initrd-opened': 1750, 'inputs-read': 2000, 'vm-prepared': 2300, 'boot-files-read': 2600, 'machine-built': 3000, 'inputs-released': 3050 },
};

describe('bench boot-startup', () => {
  it('takes --arch, --cpus, --runs, --before, --read-inputs-side, --profile, --prof-dir and --json, and names what it does not know', () => {
    expect(parseCommandLine(['--arch', 'arm64'])).toMatchObject({ arch: 'arm64', cpus: 1, runs: 3, before: undefined, readInputsSide: false, profile: false, json: false });
    expect(parseCommandLine(['--arch', 'arm64', '--read-inputs-side'])).toMatchObject({ readInputsSide: true });
    expect(parseCommandLine(['--arch', 'arm64', '--profile', '--prof-dir', '/tmp/p', '--runs', '2'])).toMatchObject({ profile: true, profDir: '/tmp/p', runs: 2 });
    expect(() => parseCommandLine(['--arch', 'arm64', '--runs', '0'])).toThrow('--runs expects a whole number ≥ 1');
    expect(() => parseCommandLine(['--arch', 'arm64', '--before', '/no/such/bin.js'])).toThrow('--before /no/such/bin.js: no such file');
    expect(() => parseCommandLine(['--arch', 'arm64', '--fast'])).toThrow('unknown option --fast');
  });

  it("reads the loader's trace per bundle: state, read/check and compile ms, when compiled and evaluated; and the threads' start", () => {
    expect(parseCodeCacheTrace(OLD_STDERR)).toEqual({
      'kvmts.js': { state: 'used', readMs: 120.5, compileMs: 210, compiledAtMs: 1010.5, evaluateMs: 900, evaluatedAtMs: 1910.5 },
      'vcpu-worker.js': { state: 'used', readMs: 100, compileMs: 200, compiledAtMs: 600, evaluateMs: 150, evaluatedAtMs: 750 },
    });
    expect(parseCodeCacheTrace(STDERR)).toEqual({
      'kvmts.js': { state: 'used', readMs: 120.5, compileMs: 210, compiledAtMs: 1010.5, evaluateMs: 900, evaluatedAtMs: 1910.5 },
      'vcpu-worker.js': { state: 'used', readMs: 100, compileMs: 200, compiledAtMs: 2400, evaluateMs: 150, evaluatedAtMs: 2550 },
      startup: { threadsStartedAtMs: 500, workerBootstrappedAtMs: 1900 },
    });
    expect(parseCodeCacheTrace('kvmts: code cache: kvmts.js miss (read and check 3.0 ms, compile 90.0 ms; 200.0 ms after the thread started)')['kvmts.js']).toMatchObject({ state: 'miss', compileMs: 90 });
  });

  it('splits one boot into phases that add up to its startMs, and lays the vCPU thread beside them on the same clock', () => {
    const p = startupPhases(SUMMARY, STDERR);
    expect(p.main).toEqual([
      ['Node start-up, bin.js, freshness check → vCPU thread started', 500],
      ['code-cache loader loaded (before: Node start-up, bin.js, loader)', 180],
      ['CLI bundle: read + code-cache key/check', 120.5],
      ['CLI bundle: compile (code cache: deserialize)', 210],
      ['CLI bundle evaluated, program built → `boot` runs', 289.5],
      ['kernel opened (BootFile; or read)', 400],
      ['initrd opened (or read)', 50],
      ['arch plugin found + loaded, Linux profile', 250],
      ['VM prepared (VM, RAM, GIC, devices, boot layout; before: and the kernel read)', 300],
      ['kernel + initrd read into guest RAM, beside the vCPU build', 300],
      ['waiting for the vCPU thread, its vCPU built (before: all of the machine build)', 400],
      ['start-up collection (every thread at once, malloc_trim)', null],
      ['kernel + initrd read on the thread pool: the rest, waited for after the collection', null],
      ['inputs released, console, signals → machine.run()', 100],
    ]);
    expect(p.main.reduce((sum, [, ms]) => sum + (ms ?? 0), 0)).toBeCloseTo(SUMMARY.startMs, 6);
    // A boot that read the kernel and initrd beside the vCPU build and the collection (it marks
    // 'machine-ready' when both were done): the build from the VM prepared, the collection, then
    // what the read still took; the phases still add up.
    const overlapped = startupPhases(
      { startMs: 3300, startupSteps: { ...SUMMARY.startupSteps, 'boot-files-read': 3200, 'machine-built': 2500, 'inputs-released': 2510, 'start-up-collected': 2700, 'machine-ready': 3210 } },
      STDERR,
    );
    expect(overlapped.main.slice(9).map(([, ms]) => ms)).toEqual([null, 200, 190, 510, 100]);
    expect(overlapped.main.reduce((sum, [, ms]) => sum + (ms ?? 0), 0)).toBeCloseTo(3300, 6);
    // With kvmts boot's start-up collection (a step of its own), and the per-arch worker bundle's trace.
    const collected = startupPhases(
      { startMs: 3200, startupSteps: { ...SUMMARY.startupSteps, 'start-up-collected': 3120 } },
      STDERR.replace(/vcpu-worker\.js/g, 'vcpu-worker-x86_64.js'),
    );
    expect(collected.main.slice(-3)).toEqual([
      ['start-up collection (every thread at once, malloc_trim)', 70],
      ['kernel + initrd read on the thread pool: the rest, waited for after the collection', null],
      ['inputs released, console, signals → machine.run()', 130],
    ]);
    expect(collected.main.reduce((sum, [, ms]) => sum + (ms ?? 0), 0)).toBeCloseTo(3200, 6);
    expect(collected.worker[3]).toEqual(['vCPU thread: worker bundle read + key/check', 100]);
    expect(p.worker).toEqual([
      ['vCPU thread started at (ms since the process started)', 500],
      ['vCPU thread: Node worker bootstrap', 1400],
      ['vCPU thread: loader loaded (before: from the process start, Node start-up, bootstrap and loader)', 200],
      ['vCPU thread: worker bundle read + key/check', 100],
      ['vCPU thread: worker bundle compile', 200],
      ['vCPU thread: worker bundle evaluated', 150],
      ['vCPU thread ready for its machine at (ms since the process started)', 2550],
      ['main thread waited for it (ready − VM prepared)', 250],
    ]);
    expect(p.codeCache).toEqual({ cli: 'used', worker: 'used' });
    // An older build without startupSteps or start-up lines: only what its trace says, the rest in the next phase it names.
    const old = startupPhases({ startMs: 3500 }, OLD_STDERR);
    expect(old.main.map(([, ms]) => ms)).toEqual([null, 680, 120.5, 210, null, null, null, null, null, null, null, null, null, null]);
    expect(old.worker.map(([, ms]) => ms)).toEqual([null, null, 300, 100, 200, 150, 750, null]);
    // One with steps but before 'vm-prepared': the whole machine build is the one phase; before
    // 'boot-files-read': the wait from the VM prepared.
    const { 'vm-prepared': _, 'boot-files-read': __, ...olderSteps } = SUMMARY.startupSteps;
    expect(startupPhases({ startMs: 3100, startupSteps: olderSteps }, OLD_STDERR).main.slice(8, 11).map(([, ms]) => ms)).toEqual([null, null, 1000]);
    const { 'boot-files-read': ___, ...vmPrepared } = SUMMARY.startupSteps;
    expect(startupPhases({ startMs: 3100, startupSteps: vmPrepared }, OLD_STDERR).main.slice(8, 11).map(([, ms]) => ms)).toEqual([300, null, 700]);
  });

  it('takes medians per phase and prints them side by side', () => {
    const a = startupPhases(SUMMARY, STDERR);
    const b = startupPhases({ ...SUMMARY, startMs: 3300, startupSteps: { ...SUMMARY.startupSteps, 'kernel-opened': 1900, 'initrd-opened': 1950, 'inputs-read': 2200, 'vm-prepared': 2500, 'boot-files-read': 2800, 'machine-built': 3200 } }, STDERR);
    const c = startupPhases({ ...SUMMARY, startMs: 2900, startupSteps: { ...SUMMARY.startupSteps, 'kernel-opened': 1500, 'initrd-opened': 1550, 'inputs-read': 1800, 'vm-prepared': 2100, 'boot-files-read': 2400, 'machine-built': 2800 } }, STDERR);
    const m = medianPhases([a, b, c]);
    expect(m.startMs).toBe(3100);
    expect(m.main[5]).toEqual(['kernel opened (BootFile; or read)', 400]);
    const table = phaseTable({ before: m, now: medianPhases([c]) });
    expect(table[0]).toBe('| step | before | now |');
    expect(table).toContain('| kernel opened (BootFile; or read) | 400 | 200 |');
    expect(table).toContain('| **process start → machine.run() (startMs)** | **3100** | **2900** |');
  });

  it('rotates the order of the sides from round to round, so that each boots first in turn', () => {
    expect([0, 1, 2, 3].map((round) => rotated(['now', 'before', 'read'], round).join(' '))).toEqual(['now before read', 'before read now', 'read now before', 'now before read']);
    expect(rotated(['now'], 5)).toEqual(['now']);
  });

  it('sums a CPU profile by function: self where the samples were, inclusive once per function on the stack', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 5] },
        { id: 2, callFrame: frame('boot', '/r/packages/cli/bundle/kvmts.js', 99), children: [3] },
        { id: 3, callFrame: frame('readInputFile', '/r/packages/cli/bundle/kvmts.js', 9), children: [4] },
        { id: 4, callFrame: frame('readSync', 'node:fs', 0), children: [] },
        { id: 5, callFrame: frame('(garbage collector)'), children: [] },
      ],
      // Samples at 0, 1, 3, 6, 10 ms (µs deltas); each stands for the time to the next.
      samples: [4, 4, 3, 5, 2],
      timeDeltas: [0, 1000, 2000, 3000, 4000],
    };
    const s = summarizeCpuProfile(profile);
    expect(s.totalMs).toBe(10);
    expect(s.self).toEqual([['(garbage collector)', 4], ['readSync node:fs:1', 3], ['readInputFile kvmts.js:10', 3], ['boot kvmts.js:100', 0]]);
    expect(s.inclusive).toEqual([['(root)', 10], ['readInputFile kvmts.js:10', 6], ['boot kvmts.js:100', 6], ['(garbage collector)', 4], ['readSync node:fs:1', 3]]);
    expect(summarizeCpuProfile(profile, { until: 2 }).totalMs).toBe(3);
  });
});
