'use strict';
/**
 * The soak's verdict, computed from its samples (pure: the host tests feed it golden series).
 *
 * Rule: over the **second half** of the run (the samples taken at or after half the exits — the
 * first half has the JIT warming up, the buses' caches filling and V8 giving back the vCPU
 * thread's start-up heap), each metric's growth must stay within its allowance:
 *  - counts (fds, threads): no change at all (max − min = 0);
 *  - memory (KiB): the growth the least-squares line fits over the window (slope × window
 *    span) may be at most `jitter + perMillion × span in millions`. `perMillion` is the leak
 *    rate tolerated — 64 KiB per million exits is 0.066 bytes per exit: a leak of one object
 *    per exit (≥ 16 bytes) is 250 times that — and `jitter` what a metric moves by between two
 *    samples of a run that does not grow: a few KiB for collected heaps and the C heap, 1 MiB
 *    for anonymous RSS (it includes the free pages V8 keeps between collections).
 * Metrics a sample does not have (no glibc: no malloc figures) are left out of the verdict. A
 * window of fewer than 3 samples decides nothing: the verdict is then `flat: false`, saying why.
 * The allowances are for a run that samples after a full GC in both threads (`--gc`): without
 * it the heaps saw-tooth with V8's schedule and the slopes measure that.
 */
const { linearFit } = require('./stats');

/** Judged metrics: counts must not change; memory may grow by jitter + perMillion per million exits (KiB). */
const FLAT_BOUNDS = Object.freeze({
  fds: { kind: 'count' },
  threads: { kind: 'count' },
  heap_used_kib: { kind: 'slope', perMillion: 64, jitter: 32 },
  external_kib: { kind: 'slope', perMillion: 64, jitter: 32 },
  vcpu_heap_used_kib: { kind: 'slope', perMillion: 64, jitter: 32 },
  vcpu_external_kib: { kind: 'slope', perMillion: 64, jitter: 32 },
  malloc_in_use_kib: { kind: 'slope', perMillion: 64, jitter: 32 },
  rss_anon_kib: { kind: 'slope', perMillion: 64, jitter: 1024 },
});

/** Fewest samples in the window for a slope to mean anything. */
const MIN_WINDOW = 3;

/** Least-squares slope of ys over xs (NaN for fewer than two distinct xs). */
const slope = (xs, ys) => linearFit(xs, ys).slope;

/** The samples of the second half of the run: exits ≥ half the last sample's. */
function secondHalf(samples) {
  if (samples.length === 0) return [];
  const last = samples[samples.length - 1].exits;
  return samples.filter((s) => s.exits >= last / 2);
}

const round1 = (x) => Math.round(x * 10) / 10;

/**
 * @param {{ exits: number }[]} samples  in exit order, each with the metrics of FLAT_BOUNDS it has
 * @returns {{ flat: boolean, reason?: string, window: { from_exits: number, to_exits: number, samples: number },
 *   metrics: Record<string, { growth: number, allowed: number, ok: boolean, slope_per_million?: number }> }}
 *   growth and allowed: max − min and 0 for counts; fitted KiB over the window and its allowance for memory
 */
function soakVerdict(samples, bounds = FLAT_BOUNDS) {
  const window = secondHalf(samples);
  const span = { from_exits: window[0]?.exits ?? 0, to_exits: window[window.length - 1]?.exits ?? 0, samples: window.length };
  const metrics = {};
  if (window.length < MIN_WINDOW) {
    return { flat: false, reason: `${window.length} sample(s) in the second half; the verdict needs ${MIN_WINDOW} (more exits or smaller slices)`, window: span, metrics };
  }
  const millions = (span.to_exits - span.from_exits) / 1e6;
  for (const [name, bound] of Object.entries(bounds)) {
    const values = window.map((s) => s[name]);
    if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) continue;
    if (bound.kind === 'count') {
      const growth = Math.max(...values) - Math.min(...values);
      metrics[name] = { growth, allowed: 0, ok: growth === 0 };
      continue;
    }
    const perMillion = slope(window.map((s) => s.exits / 1e6), values);
    const growth = round1(perMillion * millions);
    const allowed = round1(bound.jitter + bound.perMillion * millions);
    metrics[name] = { growth, allowed, ok: growth <= allowed, slope_per_million: round1(perMillion) };
  }
  const over = Object.entries(metrics).filter(([, m]) => !m.ok).map(([name]) => name);
  return { flat: over.length === 0, ...(over.length ? { reason: `growing: ${over.join(', ')}` } : {}), window: span, metrics };
}

/** The verdict for a human: `flat: true|false`, why not, the window, each metric's growth over it against its allowance (KiB; counts: max − min). */
function verdictLine(v) {
  const metrics = Object.entries(v.metrics).map(([k, m]) => `${k} ${m.growth > 0 ? '+' : ''}${m.growth} ${m.ok ? '≤' : '>'} ${m.allowed}`).join(', ');
  // The allowances assume samples taken after a full collection (--gc): say so when they were not.
  const uncollected = v.collected === false ? ' [sampled with --no-gc: the heaps include garbage, the allowances assume a collection]' : '';
  return `flat: ${v.flat}${v.reason ? ` (${v.reason})` : ''} — second half, ${v.window.from_exits}–${v.window.to_exits} exits, ${v.window.samples} samples${metrics ? `: ${metrics}` : ''}${uncollected}`;
}

module.exports = { soakVerdict, verdictLine, slope, secondHalf, FLAT_BOUNDS, MIN_WINDOW };
