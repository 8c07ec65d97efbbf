/**
 * The nested runner's shard plan (scripts/nested/lib/shards.js): longest file first onto the
 * least-loaded emulated host, and never an empty host while there are files for it — even when
 * every recorded duration is the same (a run whose files could not run once recorded 0 ms for
 * each, and the next plan put all ten arm64 files on one host and none on the other, whose jest
 * then failed with "No tests found"). A file that took no time does not overwrite its figure.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { planShards, saveDurations, loadDurations } = require('../../../scripts/nested/lib/shards') as {
  planShards(repo: string, files: string[], durations: Record<string, number>, count: number): { files: string[]; weight: number }[];
  saveDurations(cacheDir: string, tier: string, measured: Record<string, number>): void;
  loadDurations(cacheDir: string, tier: string): Record<string, number>;
};

describe('nested shard plan', () => {
  let dir: string;
  let files: string[];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-shards-'));
    files = ['a', 'b', 'c', 'd', 'e'].map((n, i) => {
      const f = path.join(dir, `${n}.test.ts`);
      fs.writeFileSync(f, 'x'.repeat(100 * (i + 1)));
      return f;
    });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const names = (plan: { files: string[] }[]) => plan.map((s) => s.files.map((f) => path.basename(f, '.test.ts')));

  it('puts the longest files first onto the least-loaded host', () => {
    const plan = planShards(dir, files, { 'a.test.ts': 50, 'b.test.ts': 40, 'c.test.ts': 30, 'd.test.ts': 20, 'e.test.ts': 10 }, 2);
    expect(names(plan)).toEqual([['a', 'd', 'e'], ['b', 'c']]);
    expect(plan.map((s) => s.weight)).toEqual([80, 70]);
  });

  it('spreads files of equal weight, zero included, so no host is empty', () => {
    const zero = Object.fromEntries(files.map((f) => [path.basename(f), 0]));
    expect(names(planShards(dir, files, zero, 2))).toEqual([['a', 'c', 'e'], ['b', 'd']]);
    expect(planShards(dir, files.slice(0, 2), zero, 3).map((s) => s.files.length)).toEqual([1, 1]);
  });

  it('keeps a file’s last real duration when this run measured 0 ms for it (it did not run)', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-durations-'));
    try {
      saveDurations(cache, 'tier', { 'a.test.ts': 1200, 'b.test.ts': 800 });
      saveDurations(cache, 'tier', { 'a.test.ts': 0, 'b.test.ts': 900, 'c.test.ts': 0 });
      expect(loadDurations(cache, 'tier')).toEqual({ 'a.test.ts': 1200, 'b.test.ts': 900 });
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
