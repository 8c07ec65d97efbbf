/** phaseReporter: 0 at once, then only reports that advance, clamped to the total: one report at the total. */
import { phaseReporter, type CheckpointProgress } from '../src/checkpoint/progress';

describe('phaseReporter', () => {
  it('passes on advancing reports only, clamped to the total', () => {
    const seen: CheckpointProgress[] = [];
    const report = phaseReporter((p) => seen.push(p), 'verify-memory', 100)!;
    for (const done of [0, 40, 40, 30, 100, 100, 250, 100]) report(done);
    expect(seen.map((p) => p.bytesDone)).toEqual([0, 40, 100]);
    expect(seen.every((p) => p.phase === 'verify-memory' && p.bytesTotal === 100)).toBe(true);
  });

  it('a phase with nothing to do reports once, at 0 of 0; no callback, no reporter', () => {
    const seen: number[] = [];
    const report = phaseReporter((p) => seen.push(p.bytesDone), 'apply-increments', 0)!;
    report(0);
    report(0);
    expect(seen).toEqual([0]);
    expect(phaseReporter(undefined, 'save-memory', 10)).toBeUndefined();
  });
});
