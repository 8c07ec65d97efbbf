/** The checkpoint progress display: golden strings for the bar and the lines, and when each is drawn. */
import { formatProgressBar, formatProgressLine, progressReporter } from '../src/progress';

const MIB = 1024 * 1024;

describe('checkpoint progress', () => {
  it('draws a bar: label, cells, percentage, MiB (golden)', () => {
    expect(formatProgressBar({ phase: 'save-memory', bytesDone: 0, bytesTotal: 256 * MIB }, 10)).toBe('\rsaving memory       [----------]   0% 0.0/256.0 MiB');
    expect(formatProgressBar({ phase: 'verify-memory', bytesDone: 16 * MIB, bytesTotal: 64 * MIB }, 10)).toBe('\rchecking memory     [##--------]  25% 16.0/64.0 MiB');
    expect(formatProgressBar({ phase: 'apply-increments', bytesDone: 4 * MIB, bytesTotal: 4 * MIB }, 10)).toBe('\rapplying increments [##########] 100% 4.0/4.0 MiB');
    // Nothing to do is done.
    expect(formatProgressBar({ phase: 'apply-increments', bytesDone: 0, bytesTotal: 0 }, 4)).toBe('\rapplying increments [####] 100% 0.0/0.0 MiB');
  });

  it('writes lines when not on a terminal (golden)', () => {
    expect(formatProgressLine({ phase: 'save-memory', bytesDone: 100 * MIB, bytesTotal: 1024 * MIB })).toBe('saving memory: 100.0 of 1024.0 MiB (9%)\n');
  });

  it('on a terminal: redraws at most every interval, always the first and last report, and ends the line', () => {
    const out: string[] = [];
    let t = 0;
    const report = progressReporter({ isTTY: true, write: (s) => out.push(s) }, { intervalMs: 100, now: () => t });
    const total = 40 * MIB;
    for (const [at, done] of [[0, 0], [50, 8], [120, 16], [150, 24], [400, 40]] as const) {
      t = at;
      report({ phase: 'save-memory', bytesDone: done * MIB, bytesTotal: total });
    }
    expect(out.map((s) => s.replace(/\[.*\]/, '[]'))).toEqual([
      '\rsaving memory       []   0% 0.0/40.0 MiB',
      '\rsaving memory       []  40% 16.0/40.0 MiB',
      '\rsaving memory       [] 100% 40.0/40.0 MiB\n',
    ]);
  });

  it('elsewhere: a line at the start, every interval and at the end of each phase', () => {
    const out: string[] = [];
    let t = 0;
    const report = progressReporter({ write: (s) => out.push(s) }, { intervalMs: 2000, now: () => t });
    for (const [at, phase, done, total] of [[0, 'verify-memory', 0, 8], [1000, 'verify-memory', 4, 8], [2500, 'verify-memory', 6, 8], [2600, 'verify-memory', 8, 8], [2700, 'apply-increments', 0, 2], [2800, 'apply-increments', 2, 2]] as const) {
      t = at;
      report({ phase, bytesDone: done * MIB, bytesTotal: total * MIB });
    }
    expect(out.join('')).toBe(
      'checking memory: 0.0 of 8.0 MiB (0%)\nchecking memory: 6.0 of 8.0 MiB (75%)\nchecking memory: 8.0 of 8.0 MiB (100%)\n' +
        'applying increments: 0.0 of 2.0 MiB (0%)\napplying increments: 2.0 of 2.0 MiB (100%)\n',
    );
  });
});
