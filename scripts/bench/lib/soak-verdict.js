'use strict';
/**
 * The soak's verdict, computed from its samples (pure: the host tests feed it golden series).
 *
 * Rule: over the **second half** of the run (the samples taken at or after half the exits — the
 * first half has the JIT warming up, the buses' caches filling and the kernel settling the
 * page cache), each metric's growth must stay within its bound:
 *  - counts (fds, threads): no change at all (max − min = 0);
 *  - memory (KiB): the least-squares slope, in KiB per million exits, at most the bound in
 *    FLAT_BOUNDS — 64 KiB per million is 0.066 bytes per exit: a leak of one object per exit
 *    (≥ 16 bytes) shows at 250 times the bound, one per console line (every 16,384 exits) at
 *    about once.
 * Metrics a sample does not have (no glibc: no malloc figures) are left out of the verdict. A
 * window of fewer than 3 samples decides nothing: the verdict is then `flat: false`, saying why.
 * The bounds are for a run that samples after a full GC in both threads (`--gc`): without it
 * the heaps saw-tooth with V8's schedule and the slopes measure that.
 */

/** Metrics the verdict judges: name → { kind, bound } (bound in KiB per million exits, or max − min for counts). */
const FLAT_BOUNDS = Object.freeze({
  fds: { kind: 'count', bound: 0 },
  threads: { kind: 'count', bound: 0 },
  heap_used_kib: { kind: 'slope', bound: 64 },
  external_kib: { kind: 'slope', bound: 64 },
  vcpu_heap_used_kib: { kind: 'slope', bound: 64 },
  vcpu_external_kib: { kind: 'slope', bound: 64 },
  malloc_in_use_kib: { kind: 'slope', bound: 64 },
  rss_anon_kib: { kind: 'slope', bound: 64 },
});

/** Fewest samples in the window for a slope to mean anything. */
const MIN_WINDOW = 3;

/** Least-squares slope of ys over xs (NaN for fewer than two distinct xs). */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

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
 *   metrics: Record<string, { growth: number, unit: string, bound: number, ok: boolean }> }}
 */
function soakVerdict(samples, bounds = FLAT_BOUNDS) {
  const window = secondHalf(samples);
  const span = { from_exits: window[0]?.exits ?? 0, to_exits: window[window.length - 1]?.exits ?? 0, samples: window.length };
  const metrics = {};
  if (window.length < MIN_WINDOW) {
    return { flat: false, reason: `${window.length} sample(s) in the second half; the verdict needs ${MIN_WINDOW} (more exits or smaller slices)`, window: span, metrics };
  }
  for (const [name, { kind, bound }] of Object.entries(bounds)) {
    const values = window.map((s) => s[name]);
    if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) continue;
    const growth = kind === 'count'
      ? Math.max(...values) - Math.min(...values)
      : round1(slope(window.map((s) => s.exits / 1e6), values));
    metrics[name] = { growth, unit: kind === 'count' ? 'max − min' : 'KiB per million exits', bound, ok: growth <= bound };
  }
  const over = Object.entries(metrics).filter(([, m]) => !m.ok).map(([name]) => name);
  return { flat: over.length === 0, ...(over.length ? { reason: `growing: ${over.join(', ')}` } : {}), window: span, metrics };
}

/** The verdict for a human: `flat: true|false`, why not, the window, each metric's growth against its bound. */
function verdictLine(v) {
  const metrics = Object.entries(v.metrics).map(([k, m]) => `${k} ${m.growth} ${m.ok ? '≤' : '>'} ${m.bound}`).join(', ');
  return `flat: ${v.flat}${v.reason ? ` (${v.reason})` : ''} — second half, ${v.window.from_exits}–${v.window.to_exits} exits, ${v.window.samples} samples${metrics ? `: ${metrics}` : ''}`;
}

module.exports = { soakVerdict, verdictLine, slope, secondHalf, FLAT_BOUNDS, MIN_WINDOW };
