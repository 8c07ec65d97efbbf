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
  startupResults(list: { name: string; startMs?: unknown }[], node: number[], per: Record<string, Record<string, number[]>>, runs: number): StartupResult[];
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
      // The baseline is the same round's bare `node -e 0`.
      expect(r.kvmts_ns_per_op).toBeCloseTo(bundled * 1e6, -5);
      expect(r.baseline_ns_per_op).toBeCloseTo((r.extra.node_e0_ms as number) * 1e6, -5);
      expect(r.ratio).toBeCloseTo(r.kvmts_ns_per_op / r.baseline_ns_per_op, 6);
      expect(r.extra).toMatchObject({ runs: 1, node_e0_ms: expect.any(Number), modular_median_ms: modular });
    }
    const lines = startup.humanLines(results);
    expect(lines[0]).toBe('median of rounds (ms, spawn → exit):');
    // One row per scenario; the demo run's row is followed by its target line (indented).
    expect(lines.slice(2).filter((l) => !l.startsWith('  ')).map((l) => l.split(/\s+/)[0])).toEqual(results.map((r) => r.scenario));
  }, 120_000);

  it('reports against the same run`s bare node -e 0 (golden): medians, ratios, the demo run`s start → KVM_RUN and targets', () => {
    const list = [{ name: 'startup-help' }, { name: 'startup-run', startMs: () => 0 }];
    const per = {
      'startup-help': { bundled: [300, 340, 320], modular: [480, 500, 490], nocache: [380, 360, 370], bundledStart: [], nocacheStart: [], modularStart: [] },
      'startup-run': {
        bundled: [7000, 7600, 7400], modular: [15000, 16000, 17000], nocache: [9000, 10000, 11000],
        bundledStart: [5000.04, 5300, 5200], nocacheStart: [7000, 7400, 7500], modularStart: [15000, 14000, 14500],
      },
    };
    const [help, run] = startup.startupResults(list, [470, 460, 500], per, 3);
    expect(help).toEqual({
      scenario: 'startup-help', kvmts_ns_per_op: 320e6, baseline_ns_per_op: 470e6, ratio: 320 / 470,
      extra: {
        runs: 3, node_e0_ms: 470, node_e0_runs_ms: [470, 460, 500], bundled_ms: [300, 340, 320], modular_ms: [480, 500, 490], modular_median_ms: 490,
        ratio_vs_modular: 0.653, no_code_cache_ms: [380, 360, 370], no_code_cache_median_ms: 370,
      },
    });
    expect(run).toMatchObject({ scenario: 'startup-run', kvmts_ns_per_op: 7400e6, baseline_ns_per_op: 470e6, ratio: 7400 / 470 });
    expect(run.extra).toMatchObject({
      modular_median_ms: 16000, ratio_vs_modular: 0.463, bundled_start_ms: 5200, bundled_start_runs_ms: [5000, 5300, 5200],
      no_code_cache_start_ms: 7400, modular_start_ms: 14500, target_ms: 250, target_ratio: 1.92,
    });
    const lines = startup.humanLines([help, run]);
    expect(lines[2]).toBe('startup-help          320.0      470.0   0.68      490            370  ');
    expect(lines[4]).toBe("  whole demo run, bundled: 7400 ms against the target ≤ 250 ms on a real host: FAIL; 15.74× this run's bare Node against ≤ 1.92×: FAIL");
  });
});
