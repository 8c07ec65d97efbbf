/**
 * The pure parts of `npm run bench -- soak` (scripts/bench/soak.js, lib/soak-verdict.js): its
 * flags, and the verdict `flat: true|false` computed from the samples — golden series with
 * known slopes. The benchmark itself is run, not tested (scripts/bench/README.md has its figures).
 */
import { ConfigError } from '@kvmts/core';

type Sample = Record<string, number>;
interface MetricVerdict { growth: number; allowed: number; ok: boolean; slope_per_million?: number }
interface Verdict { flat: boolean; reason?: string; collected?: boolean; window: { from_exits: number; to_exits: number; samples: number }; metrics: Record<string, MetricVerdict> }
/* eslint-disable @typescript-eslint/no-require-imports */
const { soakVerdict, verdictLine, slope, secondHalf, FLAT_BOUNDS } = require('../../../scripts/bench/lib/soak-verdict.js') as {
  soakVerdict(samples: Sample[], bounds?: object): Verdict;
  verdictLine(v: Verdict): string;
  slope(xs: number[], ys: number[]): number;
  secondHalf(samples: Sample[]): Sample[];
  FLAT_BOUNDS: Record<string, { kind: string; perMillion?: number; jitter?: number }>;
};
const { drift, sampleLine } = require('../../../scripts/bench/soak.js') as { drift(samples: Sample[]): Record<string, number>; sampleLine(s: Sample): string };
const { rssByMapping, rssGrowth } = require('../../../scripts/bench/lib/smaps.js') as {
  rssByMapping(text: string): Record<string, number>;
  rssGrowth(before: Record<string, number>, after: Record<string, number>): Record<string, number>;
};
const { parseArgs } = require('../../../scripts/bench/lib/args.js') as { parseArgs(argv: string[]): Record<string, unknown> };
/* eslint-enable @typescript-eslint/no-require-imports */

/** 11 samples, 0..10 M exits; `f(k)` gives each metric's value at k million exits. */
function run(f: (k: number) => Partial<Sample>): Sample[] {
  return Array.from({ length: 11 }, (_, k) => ({
    exits: k * 1_000_000,
    fds: 26,
    threads: 8,
    heap_used_kib: 6000,
    external_kib: 5900,
    vcpu_heap_used_kib: 4000,
    vcpu_external_kib: 300,
    malloc_in_use_kib: 9000,
    rss_anon_kib: 40000,
    ...f(k),
  } as Sample));
}

describe('bench soak: command line', () => {
  it('takes --gc (the default), --no-gc and --trim as flags', () => {
    expect(parseArgs(['soak'])).toMatchObject({ benchmark: 'soak', gc: true, trim: false, exits: 10_000_000, slice: 1_000_000 });
    expect(parseArgs(['soak', '--no-gc'])).toMatchObject({ gc: false });
    expect(parseArgs(['soak', '--gc', '--trim', '--json', '--exits', '2000000'])).toMatchObject({ gc: true, trim: true, json: true, exits: 2_000_000 });
    expect(() => parseArgs(['soak', '--gc=1'])).toThrow(ConfigError);
    expect(() => parseArgs(['soak', '--gcx'])).toThrow(/unknown option \(known: --json, --gc, --no-gc, --trim,/);
  });
});

describe('bench soak: slope and window', () => {
  it('fits the least-squares slope', () => {
    expect(slope([0, 1, 2, 3], [10, 12, 14, 16])).toBe(2);
    expect(slope([5, 6, 7, 8, 9, 10], [100, 120, 90, 110, 100, 100])).toBeCloseTo(-20 / 17.5, 12);
    expect(slope([3, 3], [1, 2])).toBeNaN();
  });

  it('takes the samples at or after half the last sample`s exits', () => {
    expect(secondHalf(run(() => ({}))).map((s) => s.exits / 1e6)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(secondHalf([])).toEqual([]);
  });
});

describe('bench soak: the verdict', () => {
  it('is flat for a run that fell, then plateaued with noise (the 10 M run`s RSS shape)', () => {
    const anon = [50000, 47000, 44000, 42000, 41000, 40100, 40120, 40090, 40110, 40100, 40100];
    const v = soakVerdict(run((k) => ({ rss_anon_kib: anon[k], heap_used_kib: 6000 + (k % 2) * 30 })));
    expect(v.flat).toBe(true);
    expect(v.reason).toBeUndefined();
    expect(v.window).toEqual({ from_exits: 5_000_000, to_exits: 10_000_000, samples: 6 });
    // Slope −20/17.5 KiB per million over 5 million exits; allowed 1024 + 64·5.
    expect(v.metrics.rss_anon_kib).toEqual({ growth: -5.7, allowed: 1344, ok: true, slope_per_million: -1.1 });
    // 30, 0, 30, 0, 30, 0 at 5…10 M: Σ(x − x̄)(y − ȳ) = 15·(−2.5 + 1.5 − 0.5 − 0.5 + 1.5 − 2.5) = −45, Σ(x − x̄)² = 17.5.
    expect(v.metrics.heap_used_kib).toEqual({ growth: -12.9, allowed: 352, ok: true, slope_per_million: -2.6 });
    expect(v.metrics.fds).toEqual({ growth: 0, allowed: 0, ok: true });
    expect(Object.keys(v.metrics).sort()).toEqual(Object.keys(FLAT_BOUNDS).sort());
  });

  it('is not flat for a creep of 270 KiB per million exits in the vCPU thread`s heap, naming it', () => {
    const v = soakVerdict(run((k) => ({ vcpu_heap_used_kib: 4000 + 270 * k })));
    expect(v.flat).toBe(false);
    expect(v.reason).toBe('growing: vcpu_heap_used_kib');
    expect(v.metrics.vcpu_heap_used_kib).toEqual({ growth: 1350, allowed: 352, ok: false, slope_per_million: 270 });
    expect(verdictLine(v)).toBe(
      'flat: false (growing: vcpu_heap_used_kib) — second half, 5000000–10000000 exits, 6 samples: fds 0 ≤ 0, threads 0 ≤ 0, heap_used_kib 0 ≤ 352, external_kib 0 ≤ 352, vcpu_heap_used_kib +1350 > 352, vcpu_external_kib 0 ≤ 352, malloc_in_use_kib 0 ≤ 352, rss_anon_kib 0 ≤ 1344',
    );
  });

  it('lets anonymous RSS jitter by 1 MiB but not creep: a noisy short run is flat, the same noise on a 400 KiB/M creep is not', () => {
    // 2 M exits in slices of 250 000 (the nested tier's short run): ±400 KiB of noise.
    const noise = [0, 400, -400, 300, -300, 400, -400, 0, 0];
    const short = Array.from({ length: 9 }, (_, k) => ({ exits: k * 250_000, rss_anon_kib: 30000 + noise[k] }));
    expect(soakVerdict(short, { rss_anon_kib: FLAT_BOUNDS.rss_anon_kib })).toMatchObject({ flat: true, window: { from_exits: 1_000_000, to_exits: 2_000_000, samples: 5 } });
    // RSS is the coarse backstop (the heaps and the C heap are judged at 32 + 64 KiB per million):
    // over 5 million exits ±200 KiB of noise takes 34 KiB per million off the fitted slope.
    const creep = run((k) => ({ rss_anon_kib: 40000 + 400 * k + (k % 2 ? 200 : -200) }));
    expect(soakVerdict(creep).metrics.rss_anon_kib).toEqual({ growth: 1828.6, allowed: 1344, ok: false, slope_per_million: 365.7 });
  });

  it('is not flat when one fd or thread more is there at the end, however late', () => {
    const v = soakVerdict(run((k) => ({ fds: k === 10 ? 27 : 26, threads: k >= 9 ? 9 : 8 })));
    expect(v.flat).toBe(false);
    expect(v.reason).toBe('growing: fds, threads');
    expect(v.metrics.fds.growth).toBe(1);
  });

  it('judges a growth right at the allowance as flat, and just above as not', () => {
    // 352 KiB over 5 million exits: 70.4 per million.
    expect(soakVerdict(run((k) => ({ malloc_in_use_kib: 9000 + 70.4 * k }))).metrics.malloc_in_use_kib).toMatchObject({ growth: 352, ok: true });
    expect(soakVerdict(run((k) => ({ malloc_in_use_kib: 9000 + 70.6 * k }))).metrics.malloc_in_use_kib).toMatchObject({ growth: 353, ok: false });
  });

  it('leaves out metrics a sample lacks (no glibc: no malloc figures)', () => {
    const samples = run(() => ({})).map(({ malloc_in_use_kib: _dropped, ...rest }) => rest);
    const v = soakVerdict(samples);
    expect(v.flat).toBe(true);
    expect(v.metrics.malloc_in_use_kib).toBeUndefined();
  });

  it('decides nothing from fewer than 3 samples in the second half: flat false, saying why', () => {
    const v = soakVerdict(run(() => ({})).filter((s) => s.exits === 0 || s.exits >= 9_000_000));
    expect(v).toEqual({ flat: false, reason: '2 sample(s) in the second half; the verdict needs 3 (more exits or smaller slices)', window: { from_exits: 9_000_000, to_exits: 10_000_000, samples: 2 }, metrics: {} });
    expect(verdictLine(v)).toBe('flat: false (2 sample(s) in the second half; the verdict needs 3 (more exits or smaller slices)) — second half, 9000000–10000000 exits, 2 samples');
  });

  it('says on the line when the samples were taken without a collection (the allowances assume --gc)', () => {
    const v = soakVerdict(run(() => ({})));
    expect(verdictLine({ ...v, collected: true })).toBe(verdictLine(v));
    expect(verdictLine({ ...v, collected: false })).toMatch(/^flat: true — .* \[sampled with --no-gc: the heaps include garbage, the allowances assume a collection\]$/);
  });
});

describe('bench soak: a sample for a human', () => {
  const sample = {
    exits: 1_000_000, rss_kib: 72388, rss_anon_kib: 31020, rss_file_kib: 180, heap_used_kib: 8711, heap_total_kib: 10356, external_kib: 5960,
    vcpu_heap_used_kib: 9322, vcpu_heap_total_kib: 10728, vcpu_external_kib: 6977, vcpu_scavenges: 900, vcpu_mark_compacts: 2,
    malloc_in_use_kib: 2591, malloc_free_kib: 4625, malloc_mmapped_kib: 260, fds: 26, threads: 8,
  };
  it('names every figure, the vCPU heap before → after the collection with --gc', () => {
    expect(sampleLine(sample)).toBe('RSS 72388 KiB (anon 31020, file 180), heap 8711/10356, vCPU heap 9322/10728 (GCs 900 minor, 2 major), external 5960+6977, malloc 2591 in use/4625 free/260 mmapped, fds 26, threads 8');
    expect(sampleLine({ ...sample, vcpu_heap_used_before_gc_kib: 9800 })).toContain('vCPU heap 9800→9322/10728');
    const { malloc_in_use_kib: _a, malloc_free_kib: _b, malloc_mmapped_kib: _c, ...noMalloc } = sample;
    expect(sampleLine(noMalloc)).not.toContain('malloc');
  });
});

describe('bench soak: drift', () => {
  it('is max − min per metric, over the metrics the samples have', () => {
    expect(drift([{ exits: 0, rss_kib: 100, fds: 26 }, { exits: 1, rss_kib: 90, fds: 26 }, { exits: 2, rss_kib: 95, fds: 27 }])).toEqual({ rss_kib: 10, fds: 1 });
  });
});

/** Five mappings as /proc/self/smaps lists them (fields other than Rss trimmed). */
const SMAPS = [
  '55fb2644d000-55fb2644f000 r--p 00000000 fe:00 260386                     /usr/local/bin/node',
  'Size:                  8 kB',
  'Rss:                   8 kB',
  'Anonymous:             0 kB',
  '55fb2644f000-55fb26455000 r-xp 00002000 fe:00 260386                     /usr/local/bin/node',
  'Rss:                  24 kB',
  '55fb27000000-55fb27400000 rw-p 00000000 00:00 0                          [heap]',
  'Rss:                1024 kB',
  '7f0000000000-7f0004000000 rw-p 00000000 00:00 0 ',
  'Rss:                 512 kB',
  '7f0004000000-7f0008000000 ---p 00000000 00:00 0 ',
  'Rss:                   0 kB',
  '7f1000000000-7f1000400000 rw-s 00000000 00:01 1234                       /memfd:guest-ram (deleted)',
  'Rss:                 400 kB',
  'VmFlags: rd wr sh mr mw me ms sd',
  '',
].join('\n');

describe('bench soak: resident memory by mapping', () => {
  it('sums Rss per file base name and kernel name, anonymous mappings as [anon], empty ones left out', () => {
    expect(rssByMapping(SMAPS)).toEqual({ node: 32, '[heap]': 1024, '[anon]': 512, 'memfd:guest-ram': 400 });
  });

  it('lists the groups that changed, largest growth first', () => {
    expect(rssGrowth({ node: 32, '[heap]': 1024, '[anon]': 512 }, { node: 20, '[heap]': 1100, '[anon]': 512, 'libc.so.6': 76 })).toEqual({ '[heap]': 76, 'libc.so.6': 76, node: -12 });
    expect(Object.keys(rssGrowth({ a: 1, b: 1, c: 1 }, { a: 2, b: 5, c: 0 }))).toEqual(['b', 'a', 'c']);
  });
});
