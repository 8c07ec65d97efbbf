'use strict';
/**
 * `npm run bench -- startup [--runs 5] [--json]`: how long the kvmts command takes to start,
 * the bundled CLI (packages/cli/bundle/, the default when current, run with V8's code cache)
 * against the modular one (KVMTS_CLI_BUNDLE=0), with a bare `node -e 0` and the bundled CLI
 * without its code cache (KVMTS_CODE_CACHE=0) for scale. Each figure is the time from spawning
 * the process to its exit; rounds alternate node, bundled, bundled without the cache, modular
 * after one untimed round (which also makes the code caches where the build's do not fit).
 *
 * Scenarios:
 *   startup-help  `kvmts --help`
 *   startup-run   `kvmts run --prebuilt --json`, the whole demo (guest, checkpoint, restore);
 *                 its JSON's startMs is process start → the first KVM_RUN. Target (issue #11):
 *                 the whole run ≤ 250 ms on a real host.
 *   startup-until-kvm   where /dev/kvm cannot be opened (this machine), `kvmts run` instead
 *                 runs until it fails to open /dev/kvm: start-up up to that point.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { BenchError } = require('./lib/errors');
const { median } = require('./lib/stats');

const REPO = path.resolve(__dirname, '..', '..');
const BIN = path.join(REPO, 'packages', 'cli', 'dist', 'bin.js');
const RUN_TARGET_MS = 250;
/**
 * The same target as a ratio to a bare `node -e 0` of the same run, for hosts slower than the
 * issue's (an emulated one): its 250 ms against the 130 ms bare Node it measured natively.
 */
const RUN_TARGET_RATIO = Math.round((RUN_TARGET_MS / 130) * 100) / 100;

const description = 'kvmts start-up: --help and the demo run, bundled CLI vs modular, with node -e 0 for scale';

function header(options) {
  return `startup: ${options.runs} alternating rounds (node -e 0, bundled, bundled without code cache, modular) after one untimed round; time from spawn to exit (median)`;
}

function kvmUsable() {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** Spawns node with `args`; resolves with { ms, status, stdout, stderr }. */
function timed(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (status) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status, stdout, stderr }));
  });
}

/** The scenarios for this host: what each runs and how its result is checked. */
function scenarios() {
  const kvm = kvmUsable();
  const help = { name: 'startup-help', args: [BIN, '--help'], check: (r) => r.status === 0 && r.stdout.startsWith('Usage: kvmts') };
  const run = kvm
    ? { name: 'startup-run', args: [BIN, 'run', '--prebuilt', '--json'], check: (r) => r.status === 0 && JSON.parse(r.stdout).ok === true, startMs: (r) => JSON.parse(r.stdout).startMs }
    : { name: 'startup-until-kvm', args: [BIN, 'run', '--prebuilt', '--json'], check: (r) => r.status === 1 && /KvmUnavailableError|\/dev\/kvm/.test(r.stderr) };
  return [help, run];
}

const SIDES = { bundled: { KVMTS_CLI_BUNDLE: '1', KVMTS_CODE_CACHE: 'auto' }, nocache: { KVMTS_CLI_BUNDLE: '1', KVMTS_CODE_CACHE: '0' }, modular: { KVMTS_CLI_BUNDLE: '0' } };

async function runStartup(options, progress) {
  const list = scenarios();
  const node = [];
  const per = Object.fromEntries(list.map((s) => [s.name, Object.fromEntries(Object.keys(SIDES).flatMap((side) => [[side, []], [`${side}Start`, []]]))]));
  for (let round = 0; round <= options.runs; round++) {
    const timedRound = round > 0;
    const n = await timed(['-e', '0'], {});
    if (timedRound) node.push(n.ms);
    for (const s of list) {
      for (const [side, env] of Object.entries(SIDES)) {
        const r = await timed(s.args, env);
        let ok = false;
        try {
          ok = s.check(r);
        } catch {
          ok = false;
        }
        if (!ok) throw new BenchError(`${s.name} (${side}): unexpected result, status ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
        if (!timedRound) continue;
        per[s.name][side].push(r.ms);
        if (s.startMs) per[s.name][`${side}Start`].push(s.startMs(r));
      }
    }
    progress(`${timedRound ? `round ${round}` : 'untimed round'}: node -e 0 ${n.ms.toFixed(0)} ms`);
  }
  return startupResults(list, node, per, options.runs);
}

const round1 = (v) => Math.round(v * 10) / 10;

/**
 * The results in the benchmarks' shared JSON shape, from every round's ms (pure: golden-tested).
 * `kvmts_ns_per_op` is the bundled CLI (the default build, with its code cache), and
 * `baseline_ns_per_op` a bare `node -e 0` of the same rounds: what Node alone costs on this
 * host, the issue's own anchor (the whole demo against bare Node). The modular CLI, the bundle
 * without its code cache and process start → first KVM_RUN are in `extra`.
 */
function startupResults(list, node, per, runs) {
  const nodeMs = median(node);
  return list.map((s) => {
    const p = per[s.name];
    const bundled = median(p.bundled);
    const modular = median(p.modular);
    const extra = {
      runs,
      node_e0_ms: round1(nodeMs),
      node_e0_runs_ms: node.map(round1),
      bundled_ms: p.bundled.map(round1),
      modular_ms: p.modular.map(round1),
      modular_median_ms: round1(modular),
      ratio_vs_modular: Math.round((bundled / modular) * 1000) / 1000,
      no_code_cache_ms: p.nocache.map(round1),
      no_code_cache_median_ms: round1(median(p.nocache)),
    };
    if (s.startMs) {
      Object.assign(extra, {
        bundled_start_ms: round1(median(p.bundledStart)),
        bundled_start_runs_ms: p.bundledStart.map(round1),
        no_code_cache_start_ms: round1(median(p.nocacheStart)),
        modular_start_ms: round1(median(p.modularStart)),
        target_ms: RUN_TARGET_MS,
        target_ratio: RUN_TARGET_RATIO,
      });
    }
    return { scenario: s.name, kvmts_ns_per_op: bundled * 1e6, baseline_ns_per_op: nodeMs * 1e6, ratio: bundled / nodeMs, extra };
  });
}

function humanLines(results) {
  const lines = ['median of rounds (ms, spawn → exit):', 'scenario            bundled  node -e 0  ratio  modular  no code cache  start→KVM_RUN bundled / no code cache / modular'];
  for (const r of results) {
    const e = r.extra;
    const start = e.bundled_start_ms === undefined ? '' : `${e.bundled_start_ms} / ${e.no_code_cache_start_ms} / ${e.modular_start_ms}`;
    lines.push(
      `${r.scenario.padEnd(18)} ${(r.kvmts_ns_per_op / 1e6).toFixed(1).padStart(8)} ${(r.baseline_ns_per_op / 1e6).toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(6)} ${String(e.modular_median_ms).padStart(8)} ${String(e.no_code_cache_median_ms).padStart(14)}  ${start}`,
    );
    if (e.target_ms !== undefined) {
      const ms = r.kvmts_ns_per_op / 1e6;
      lines.push(`  whole demo run, bundled: ${ms.toFixed(0)} ms against the target ≤ ${e.target_ms} ms on a real host: ${ms <= e.target_ms ? 'PASS' : 'FAIL'}; ${r.ratio.toFixed(2)}× this run's bare Node against ≤ ${e.target_ratio}×: ${r.ratio <= e.target_ratio ? 'PASS' : 'FAIL'}`);
    }
  }
  return lines;
}

module.exports = { description, header, runStartup, startupResults, humanLines, scenarios };
