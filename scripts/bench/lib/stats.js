'use strict';
/** Small statistics for benchmark rounds. */

function median(values) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The least-squares line through (xs[i], ys[i]): ys ≈ intercept + slope · xs, and r2, the
 * share of ys' variance the line explains (1 when every point is on it). With `weights`, point i
 * counts weights[i] times (1 / ys[i]² fits relative errors: a large point then does not decide
 * the line alone). slope, intercept and r2 are NaN for fewer than two distinct xs; r2 is 1 when
 * every y is the same.
 */
function linearFit(xs, ys, weights = xs.map(() => 1)) {
  const n = xs.length;
  let w = 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    w += weights[i];
    mx += weights[i] * xs[i];
    my += weights[i] * ys[i];
  }
  mx /= w;
  my /= w;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += weights[i] * (xs[i] - mx) * (ys[i] - my);
    sxx += weights[i] * (xs[i] - mx) ** 2;
    syy += weights[i] * (ys[i] - my) ** 2;
  }
  if (sxx === 0) return { slope: NaN, intercept: NaN, r2: NaN };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** The largest |y − line(x)| / y over the points: how far the worst point is off the line, as a share of itself. */
function worstRelativeError(xs, ys, { slope, intercept }) {
  return Math.max(...xs.map((x, i) => Math.abs(ys[i] - (intercept + slope * x)) / ys[i]));
}

module.exports = { median, linearFit, worstRelativeError };
