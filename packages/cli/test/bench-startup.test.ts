/**
 * `npm run bench -- startup` on the host tier: one real round of each scenario this host can
 * run (no /dev/kvm here: --help and the run up to opening /dev/kvm), checked and reported in the
 * benchmarks' shared JSON shape, and the human table.
 */
import * as fs from 'node:fs';

interface StartupResult {
  scenario: string;
  kvmts_ns_per_op: number;
  baseline_ns_per_op: number;
  ratio: number;
  extra: Record<string, unknown>;
}
interface Startup {
  runStartup(options: { runs: number }, progress: (line: string) => void): Promise<StartupResult[]>;
  humanLines(results: StartupResult[]): string[];
  scenarios(): { name: string }[];
}
// A plain Node script (also run by scripts/bench/run.js), so it is required rather than imported.
const startup = require('../../../scripts/bench/startup.js') as Startup;

const kvmOpens = (() => {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
})();

describe('bench startup', () => {
  it('runs the demo where /dev/kvm opens, else measures the run up to opening it', () => {
    expect(startup.scenarios().map((s) => s.name)).toEqual(['startup-help', kvmOpens ? 'startup-run' : 'startup-until-kvm']);
  });

  it('measures the bundled and the modular CLI and node -e 0 in one round, in the shared JSON shape', async () => {
    const progress: string[] = [];
    const results = await startup.runStartup({ runs: 1 }, (line) => progress.push(line));
    expect(progress).toEqual([expect.stringMatching(/^untimed round: node -e 0 \d+ ms$/), expect.stringMatching(/^round 1: node -e 0 \d+ ms$/)]);
    expect(results.map((r) => r.scenario)).toEqual(startup.scenarios().map((s) => s.name));
    for (const r of results) {
      const [bundled] = r.extra.bundled_ms as number[];
      const [modular] = r.extra.modular_ms as number[];
      expect(r.kvmts_ns_per_op).toBeCloseTo(bundled * 1e6, -5);
      expect(r.baseline_ns_per_op).toBeCloseTo(modular * 1e6, -5);
      expect(r.ratio).toBeCloseTo(r.kvmts_ns_per_op / r.baseline_ns_per_op, 6);
      expect(r.extra).toMatchObject({ runs: 1, node_e0_ms: expect.any(Number) });
    }
    const lines = startup.humanLines(results);
    expect(lines[0]).toBe('median of rounds (ms, spawn → exit):');
    // One row per scenario; the demo run's row is followed by its target line (indented).
    expect(lines.slice(2).filter((l) => !l.startsWith('  ')).map((l) => l.split(/\s+/)[0])).toEqual(results.map((r) => r.scenario));
  }, 120_000);
});
