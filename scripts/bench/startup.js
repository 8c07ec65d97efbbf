'use strict';
/**
 * `npm run bench -- startup [--runs 5] [--json]`: how long the kvmts command takes to start,
 * the bundled CLI (packages/cli/bundle/, the default when current) against the modular one
 * (KVMTS_CLI_BUNDLE=0), with a bare `node -e 0` for scale. Each figure is the time from spawning
 * the process to its exit; rounds alternate node, bundled, modular after one untimed round.
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

const description = 'kvmts start-up: --help and the demo run, bundled CLI vs modular, with node -e 0 for scale';

function header(options) {
  return `startup: ${options.runs} alternating rounds (node -e 0, bundled, modular) after one untimed round; time from spawn to exit (median)`;
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

const SIDES = { bundled: { KVMTS_CLI_BUNDLE: '1' }, modular: { KVMTS_CLI_BUNDLE: '0' } };

async function runStartup(options, progress) {
  const list = scenarios();
  const node = [];
  const per = Object.fromEntries(list.map((s) => [s.name, { bundled: [], modular: [], bundledStart: [], modularStart: [] }]));
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
  const round1 = (v) => Math.round(v * 10) / 10;
  return list.map((s) => {
    const p = per[s.name];
    const bundled = median(p.bundled);
    const modular = median(p.modular);
    const extra = { runs: options.runs, node_e0_ms: round1(median(node)), bundled_ms: p.bundled.map(round1), modular_ms: p.modular.map(round1) };
    if (s.startMs) Object.assign(extra, { bundled_start_ms: round1(median(p.bundledStart)), modular_start_ms: round1(median(p.modularStart)), target_ms: RUN_TARGET_MS });
    return { scenario: s.name, kvmts_ns_per_op: bundled * 1e6, baseline_ns_per_op: modular * 1e6, ratio: bundled / modular, extra };
  });
}

function humanLines(results) {
  const lines = ['median of rounds (ms, spawn → exit):', 'scenario            bundled  modular  ratio  node -e 0  start→KVM_RUN bundled / modular'];
  for (const r of results) {
    const e = r.extra;
    const start = e.bundled_start_ms === undefined ? '' : `${e.bundled_start_ms} / ${e.modular_start_ms}`;
    lines.push(`${r.scenario.padEnd(18)} ${(r.kvmts_ns_per_op / 1e6).toFixed(1).padStart(8)} ${(r.baseline_ns_per_op / 1e6).toFixed(1).padStart(8)} ${r.ratio.toFixed(3).padStart(6)} ${String(e.node_e0_ms).padStart(10)}  ${start}`);
    if (e.target_ms !== undefined) lines.push(`  whole demo run, bundled: ${(r.kvmts_ns_per_op / 1e6).toFixed(0)} ms against the target ≤ ${e.target_ms} ms: ${r.kvmts_ns_per_op / 1e6 <= e.target_ms ? 'PASS' : 'FAIL'}`);
  }
  return lines;
}

module.exports = { description, header, runStartup, humanLines, scenarios };
