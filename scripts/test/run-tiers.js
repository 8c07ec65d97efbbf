#!/usr/bin/env node
'use strict';
/**
 * Runs the test tiers and prints one closing line, `N passed, N failed, N skipped`, summed
 * over every tier that ran. CI reads that line; jest's own summary has another shape.
 *
 *   node scripts/test/run-tiers.js [host] [nested-x86] [nested-x86-cli] [nested-x86-qemu10] [nested-x86-smp-linux] [nested-arm64]   (default: all)
 *
 * host:          jest on this machine (KVMTS_TIER=host), counted from `jest --json`.
 * nested-x86/64: scripts/nested/run.js in a QEMU-emulated host with real KVM; its last line
 *                "<tier>: N passed, N failed[, N skipped]" is parsed.
 * nested-x86-cli, nested-x86-qemu10, nested-x86-smp-linux: nested-x86 suites run in emulated
 *                hosts of their own (EXTRA_X86_TIERS: the CLI's KVM suites, so that no tier takes
 *                over 10 minutes; QEMU 10 for DR0–DR3 in L2; a multi-threaded TCG L1 for 2-vCPU
 *                Linux guests); nested-x86 leaves them out when they run here.
 * The *.kvm.test.ts suites run once, where real KVM is (kvmPlacement below): in the host tier
 * when this machine's /dev/kvm opens, else in nested-x86 — on a PVM host, those a PVM host cannot
 * run (test-support/host-kvm.js) in nested-x86 and the rest here. Wherever they run,
 * KVMTS_REQUIRE_KVM=1 is set, so a suite that finds no KVM fails instead of skipping.
 * Before the counts, every failed test is named again, one line each with its message's first
 * lines (lib/failures.js): CI keeps only the tail of the output.
 * Exits non-zero when any tier failed or did not report.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const { hostKvm, PVM_UNFIT_SUITES } = require('../../test-support/host-kvm');
const { FAILED_TEST_PREFIX, failedTestsOfReport } = require('./lib/failures');
const ALL = ['host', 'nested-x86', 'nested-x86-cli', 'nested-x86-qemu10', 'nested-x86-smp-linux', 'nested-arm64'];
/**
 * Extra nested-x86 tiers: suites whose proof needs an emulated host set up differently from the
 * tier's default, each run in one such host. When nested-x86 runs in the same invocation it
 * leaves them out (KVMTS_SKIP_SUITES), so each suite runs once. docs/testing.md explains both.
 */
const EXTRA_X86_TIERS = {
  // The CLI's KVM suites (~240 s of the ~1 150 s of suites nested-x86 had), split off in their
  // own pair of emulated hosts so that neither run takes over 10 minutes. The same L1 as
  // nested-x86: only the split is different.
  'nested-x86-cli': {
    // Every one of them, so that a new CLI suite lands here too.
    suites: fs.readdirSync(path.join(REPO, 'packages/cli/test')).filter((f) => f.endsWith('.kvm.test.ts')).sort().map((f) => `packages/cli/test/${f}`),
    env: {},
    kvmSuites: true,
  },
  // QEMU 7.2's nested SVM never fires DR0–DR3 in L2: the hardware breakpoint and watchpoint
  // tests run under bookworm-backports' QEMU 10. A *.kvm suite: where the KVM suites run on
  // this machine's own /dev/kvm there is nothing to add.
  'nested-x86-qemu10': {
    suites: ['packages/arch-x86/test/guest-debug.kvm.test.ts'],
    env: { KVMTS_NESTED_QEMU: 'backports', KVMTS_NESTED_SHARDS: '1' },
    kvmSuites: true,
  },
  // A 2-vCPU L2 Linux boots only in a multi-threaded TCG L1 (in the default L1 it freezes
  // silently); the Linux suites' 1-vCPU boots are steadier there too. That L1 itself is not:
  // QEMU 7.2's multi-threaded TCG now and then leaves its kernel in a soft lockup or resets it
  // (about one CI run in eight: the emulated host dies, no test fails), so a host that dies
  // without a failed test is started again, once (retryDeadHost); both are printed.
  'nested-x86-smp-linux': {
    suites: ['packages/arch-x86/test/linux-shell-bzimage.nested-x86.test.ts', 'packages/arch-x86/test/linux-shell-pvh.nested-x86.test.ts'],
    env: { KVMTS_NESTED_L1: 'tcg-multi', KVMTS_NESTED_SHARDS: '1' },
    kvmSuites: false,
    retryDeadHost: true,
  },
};
const COUNTS = /(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/;
/** Failed tests listed at the end, at most: a run that fails everything needs no longer list. */
const MAX_FAILED_SHOWN = 20;

/** Runs a tier's command, its output passed through; keeps the tail and its `failed test:` lines. */
function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    let partial = '';
    const failedTests = [];
    const collect = (lines) => {
      for (const l of lines) if (l.startsWith(FAILED_TEST_PREFIX)) failedTests.push(l.slice(FAILED_TEST_PREFIX.length));
    };
    // Decoded as a stream: a character split between two chunks stays whole.
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      process.stdout.write(text);
      tail = (tail + text).slice(-4096);
      const lines = (partial + text).split('\n');
      partial = lines.pop();
      collect(lines);
    });
    child.on('close', (code, signal) => {
      collect([partial]); // a last line without its newline
      resolve({ code: code ?? 1, signal, tail, failedTests });
    });
  });
}

/**
 * The one place that decides which tier runs the *.kvm.test.ts suites (jest.config.js reads the
 * answer from KVMTS_KVM_SUITES): the host tier when it is requested and /dev/kvm opens here, or
 * when the caller set KVMTS_REQUIRE_KVM=1 (.ci/run does where /dev/kvm is usable: then a broken
 * /dev/kvm fails the suites instead of moving them away); otherwise nested-x86. A PVM host
 * splits them: `split`, the PVM_UNFIT_SUITES to nested-x86 (test-support/host-kvm.js).
 */
function kvmPlacement(tiers) {
  const { kind, why } = hostKvm();
  const onHost = tiers.includes('host') && (process.env.KVMTS_REQUIRE_KVM === '1' || kind !== 'none');
  return { suites: !onHost ? 'nested-x86' : kind === 'pvm' ? 'split' : 'host', problem: why };
}

/** The suites of an extra nested tier that it runs, given where the KVM suites run (none: the tier is not needed). */
function extraTierSuites(extra, placement) {
  if (!extra.kvmSuites || placement.suites === 'nested-x86') return extra.suites;
  if (placement.suites === 'split') return extra.suites.filter((s) => s in PVM_UNFIT_SUITES);
  return [];
}

/**
 * Tools the host tier's own suites need beyond a fresh machine's: the arm64 ABI tables are
 * checked against the arm64 headers with the cross compiler (arch-arm64's abi.test.ts). The
 * nested arm64 tier installs it too, but it runs after the host tier.
 */
const HOST_TIER_PACKAGES = ['gcc-aarch64-linux-gnu', 'linux-libc-dev-arm64-cross', 'libc6-dev-arm64-cross'];

async function hostTier(placement, tiers) {
  require('../nested/lib/fetch').ensureHostPackages(HOST_TIER_PACKAGES);
  const env = { KVMTS_TIER: 'host', KVMTS_KVM_SUITES: placement.suites };
  if (placement.suites === 'host') env.KVMTS_REQUIRE_KVM = '1';
  else if (placement.suites === 'split') {
    env.KVMTS_REQUIRE_KVM = '1';
    const unfit = Object.keys(PVM_UNFIT_SUITES).length;
    process.stdout.write(`host: ${placement.problem}: the KVM suites run here but for ${unfit} that need hardware virtualization, which run in nested-x86 (test-support/host-kvm.js)\n`);
  } else {
    const where = tiers.includes('nested-x86') ? 'in nested-x86 instead' : 'only in nested-x86 (npm run test:nested:x86)';
    process.stdout.write(`host: /dev/kvm cannot be opened (${placement.problem}): pure tier only; the KVM suites run ${where}\n`);
  }
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-jest-')), 'host.json');
  const r = await run(process.execPath, [require.resolve('jest/bin/jest', { paths: [REPO] }), '--ci', '--json', `--outputFile=${out}`], env);
  if (!fs.existsSync(out)) return { tier: 'host', ok: false, why: `jest wrote no report (exit ${r.code})` };
  const j = JSON.parse(fs.readFileSync(out, 'utf8'));
  const skipped = j.numPendingTests + j.numTodoTests;
  // A suite that fails to load has no failed tests but is a failure all the same.
  const failed = j.numFailedTests + (j.numRuntimeErrorTestSuites || 0);
  return { tier: 'host', ok: r.code === 0 && failed === 0, passed: j.numPassedTests, failed, skipped, failedTests: failedTestsOfReport(j, REPO) };
}

/** The extra tiers' suites that nested-x86 leaves to them in this invocation. */
function suitesRunElsewhere(tiers, placement) {
  return Object.entries(EXTRA_X86_TIERS)
    .filter(([name]) => tiers.includes(name))
    .flatMap(([, t]) => extraTierSuites(t, placement));
}

async function nestedTier(tier, placement, tiers) {
  const arch = tier.startsWith('nested-x86') ? 'x86' : 'arm64';
  const args = [path.join(REPO, 'scripts/nested/run.js'), arch];
  const env = { KVMTS_KVM_SUITES: placement.suites };
  const extra = EXTRA_X86_TIERS[tier];
  if (extra) {
    const suites = extraTierSuites(extra, placement);
    if (suites.length === 0) {
      process.stdout.write(`${tier}: not needed — its suites ran on this machine's /dev/kvm\n`);
      return { tier, ok: true, passed: 0, failed: 0, skipped: 0 };
    }
    args.push(...suites);
    Object.assign(env, extra.env);
  } else if (tier === 'nested-x86') {
    env.KVMTS_SKIP_SUITES = suitesRunElsewhere(tiers, placement).join(',');
  }
  const first = tierResult(tier, await run(process.execPath, args, env));
  if (!extra?.retryDeadHost || first.ok || !onlyTheHostDied(first)) return first;
  const died = first.failedTests.join('; ');
  process.stdout.write(`${tier}: the emulated host died with no test failed (${died}); starting another, once\n`);
  return { ...tierResult(tier, await run(process.execPath, args, env)), retriedAfter: died };
}

/** A nested tier's outcome from its run: the counts line, the failed tests and host problems it named. */
function tierResult(tier, r) {
  const lines = r.tail.trim().split('\n').reverse();
  const line = lines.find((l) => COUNTS.test(l));
  if (!line) return { tier, ok: false, why: `no result line (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`, failedTests: r.failedTests };
  const [, p, f, s] = COUNTS.exec(line);
  return { tier, ok: r.code === 0 && Number(f) === 0, passed: Number(p), failed: Number(f), skipped: Number(s ?? 0), failedTests: r.failedTests };
}

/**
 * The run failed only because its emulated host died — hung, wedged or stopped (scripts/nested/run.js
 * names those `emulated host: …`) — and no test failed. A host that ran out of its whole time is
 * slow, not dead: not retried (a second run would not fit the tier's 10 minutes either).
 */
function onlyTheHostDied(result) {
  return result.failedTests.length > 0 && result.failedTests.every((f) => f.startsWith('emulated host') && !f.includes('did not finish in'));
}

async function main() {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((t) => !ALL.includes(t));
  if (unknown.length) {
    process.stderr.write(`run-tiers: unknown tier(s) ${unknown.join(', ')}; expected ${ALL.join(', ')}\n`);
    process.exit(2);
  }
  const tiers = requested.length ? requested : ALL;
  const placement = kvmPlacement(tiers);
  const results = [];
  // One tier after the other, nested ones included: nested-x86 already keeps both cores of the
  // project machine busy with its two emulated hosts, and running nested-arm64 beside it saved
  // 5 s of 200 (docs/testing.md, "Measured") while slowing every emulated host it shared with.
  for (const t of tiers) {
    const t0 = Date.now();
    const r = t === 'host' ? await hostTier(placement, tiers) : await nestedTier(t, placement, tiers);
    r.seconds = Math.round((Date.now() - t0) / 1000);
    results.push(r);
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  // Named again here, next to the counts: CI keeps only the tail of a run's output.
  const failedTests = results.flatMap((r) => (r.failedTests ?? []).map((f) => `${r.tier}: ${f}`));
  if (failedTests.length) {
    process.stdout.write('\n── failed tests ──\n');
    const shown = failedTests.slice(0, MAX_FAILED_SHOWN);
    for (const f of shown) process.stdout.write(`${f}\n`);
    if (failedTests.length > shown.length) process.stdout.write(`… and ${failedTests.length - shown.length} more (above)\n`);
  }
  process.stdout.write('\n── test tiers ──\n');
  for (const r of results) {
    if (r.passed === undefined) {
      process.stdout.write(`${r.tier}: did not report (${r.why}) [${r.seconds}s]\n`);
      failed += 1; // a tier that could not report counts as a failure
      continue;
    }
    passed += r.passed;
    failed += r.failed + (r.ok || r.failed > 0 ? 0 : 1);
    skipped += r.skipped;
    const retried = r.retriedAfter ? ` (on a second emulated host: the first died — ${r.retriedAfter})` : '';
    process.stdout.write(`${r.tier}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.ok ? '' : ' — FAILED'}${retried} [${r.seconds}s]\n`);
  }
  const summary = `${passed} passed, ${failed} failed, ${skipped} skipped`;
  // Kept for .ci/run, which repeats it as its own last line (npm may print after us on failure).
  fs.mkdirSync(path.join(REPO, '.cache'), { recursive: true });
  fs.writeFileSync(path.join(REPO, '.cache', 'test-summary.txt'), summary + '\n');
  process.stdout.write(summary + '\n');
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

main();
