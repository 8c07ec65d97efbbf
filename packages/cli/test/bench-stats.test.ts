/**
 * scripts/bench/lib/stats.js: the median of rounds, and the least-squares line the checkpoint
 * benchmark fits through its incremental links (time = fixed + per-page × pages) — golden values.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
interface Line { slope: number; intercept: number; r2: number }
const { median, linearFit, worstRelativeError } = require('../../../scripts/bench/lib/stats.js') as {
  median(values: number[]): number;
  linearFit(xs: number[], ys: number[], weights?: number[]): Line;
  worstRelativeError(xs: number[], ys: number[], line: Line): number;
};

describe('bench stats', () => {
  it('takes the median of odd and even counts, NaN of none', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('fits a line exactly through points on it', () => {
    // 7 ms fixed + 2 µs per page, in ns: the shape of an incremental link's cost.
    const pages = [0, 64, 256, 1024, 4096, 16384];
    const fit = linearFit(pages, pages.map((p) => 7e6 + 2000 * p));
    expect(fit.slope).toBeCloseTo(2000, 9);
    expect(fit.intercept).toBeCloseTo(7e6, 3);
    expect(fit.r2).toBeCloseTo(1, 12);
  });

  it('fits scattered points by least squares, with the share of variance explained', () => {
    // xs mean 2, ys mean 3; Sxy = 6, Sxx = 10, Syy = 8: slope 0.6, intercept 1.8, r2 36 / 80.
    const fit = linearFit([0, 1, 2, 3, 4], [2, 2, 4, 2, 5]);
    expect(fit.slope).toBeCloseTo(0.6, 12);
    expect(fit.intercept).toBeCloseTo(1.8, 12);
    expect(fit.r2).toBeCloseTo(0.45, 12);
  });

  it('weights points: by 1 / y², the small points count as much as a large one', () => {
    // Unweighted, the point far to the right decides the line: r2 0.9999, yet the line is 39 % off
    // at x = 0. Weighted by 1 / y² (relative errors), no point is more than 23 % off.
    // (Values cross-checked with an independent weighted least-squares computation.)
    const xs = [0, 1, 2, 100];
    const ys = [5, 6, 7, 300];
    const plain = linearFit(xs, ys);
    expect(plain.slope).toBeCloseTo(2.969161, 6);
    expect(plain.intercept).toBeCloseTo(3.044099, 6);
    expect(plain.r2).toBeGreaterThan(0.9998);
    expect(worstRelativeError(xs, ys, plain)).toBeCloseTo(0.391180, 6);
    const relative = linearFit(xs, ys, ys.map((y) => 1 / y ** 2));
    expect(relative.slope).toBeCloseTo(2.299359, 6);
    expect(relative.intercept).toBeCloseTo(3.997638, 6);
    expect(worstRelativeError(xs, ys, relative)).toBeCloseTo(0.228051, 6);
    // Equal weights are the plain fit.
    expect(linearFit(xs, ys, [2, 2, 2, 2])).toEqual(plain);
  });

  it('has no line without two distinct xs, and r2 1 for a flat series', () => {
    expect(linearFit([3, 3], [1, 2])).toEqual({ slope: NaN, intercept: NaN, r2: NaN });
    expect(linearFit([1, 2, 3], [5, 5, 5])).toEqual({ slope: 0, intercept: 5, r2: 1 });
  });
});
