#!/usr/bin/env node
'use strict';
/**
 * Runs one nested test tier inside a QEMU-emulated host that has a real /dev/kvm.
 *
 *   node scripts/nested/run.js <x86|arm64> [jest args, e.g. a path pattern]
 *
 * Environment (all optional; docs/testing.md has the table):
 *   KVMTS_NESTED_CACHE         cache directory (default ~/.cache/kvmts/nested)
 *   KVMTS_NESTED_TIMEOUT       seconds for the whole emulated run (default 540)
 *   KVMTS_NESTED_IDLE_TIMEOUT  seconds without console output before the guest counts as hung (240)
 *   KVMTS_NESTED_KEEP_LOG=1    keep the console log of a passing run
 *   KVMTS_NESTED_QEMU_EXTRA    more QEMU arguments, e.g. "-smp 4"
 *   KVMTS_NESTED_NODE_OPTIONS  NODE_OPTIONS inside the guest (default per tier)
 *   KVMTS_NESTED_CMD           debugging: a shell command run in the repo inside the guest instead of jest
 * Prints "<tier>: N passed, N failed, N skipped" last; exits non-zero on failures, on a timeout
 * or kernel lockup (hung emulated host), when /dev/kvm is missing inside, or when the guest never
 * reported. The console log of a failed run is kept and its path printed.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { TIERS, COMMON_HOST_PACKAGES, HOST_BUSYBOX_DEB } = require('./lib/tiers');
const { NestedError, setLogPrefix, log, sh, mkdirp, seconds } = require('./lib/util');
const fetch = require('./lib/fetch');
const { loadOrder } = require('./lib/kmod');
const { buildInitramfs } = require('./lib/initramfs');
const { buildNative, assembleGuests, ADDON } = require('./lib/guest-build');
const { boot } = require('./lib/qemu');

const REPO = path.resolve(__dirname, '..', '..');
/** jest's default per-test timeout inside the emulated hosts (jest.config.js says 60 s for the host). */
const TEST_TIMEOUT_MS = 180_000;
const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Fetches and builds everything the guest needs; returns the boot material. */
function prepare(arch, tier, cacheDir, runDir) {
  fetch.ensureHostPackages([...COMMON_HOST_PACKAGES, ...tier.hostPackages]);
  const hostArch = sh('dpkg', ['--print-architecture'], { capture: true }).trim();
  const kernelPkg = fetch.resolveKernelPackage(cacheDir, tier, hostArch);
  const specs = [...new Set([kernelPkg, ...tier.guestDebs, `${HOST_BUSYBOX_DEB}:${hostArch}`])];
  const debs = fetch.fetchDebs(cacheDir, specs, hostArch);
  const dirs = Object.fromEntries(specs.map((s, i) => [s, fetch.extractDeb(cacheDir, debs[i])]));

  const kdir = dirs[kernelPkg];
  const [kver] = fs.readdirSync(path.join(kdir, 'lib', 'modules'));
  const kernel = path.join(kdir, tier.kernelFile(kver));
  const modules = loadOrder(path.join(kdir, 'lib', 'modules', kver, 'kernel'), tier.modules);
  const busyboxSpec = tier.guestDebs.find((s) => s.startsWith('busybox-static'));
  const busybox = path.join(dirs[busyboxSpec], 'bin', 'busybox');
  const hostBusybox = path.join(dirs[`${HOST_BUSYBOX_DEB}:${hostArch}`], 'bin', 'busybox');

  const libTrees = tier.guestDebs.filter((s) => s !== busyboxSpec).map((s) => dirs[s]);
  const node = tier.node.kind === 'npm'
    ? { kind: 'npm', binary: path.join(fetch.fetchNpm(cacheDir, tier.node.spec), tier.node.binary) }
    : { kind: 'host' };
  const initrd = buildInitramfs({ cacheDir, name: tier.tier, busybox, hostBusybox, modules, libTrees, node, hostTools: tier.hostTools });

  // The per-run share: run.env, assembled guest programs, and the overlay of guest-arch files.
  const addon = buildNative(REPO, cacheDir, tier.native);
  const asm = assembleGuests(arch, tier.assembler, path.join(runDir, 'asm'));
  fs.copyFileSync(path.join(__dirname, 'guest', 'progress-reporter.js'), path.join(runDir, 'progress-reporter.js'));
  if (tier.native || tier.npmOverlay.length) {
    const overlay = path.join(runDir, 'overlay');
    mkdirp(path.dirname(path.join(overlay, 'packages/native', ADDON)));
    fs.copyFileSync(addon, path.join(overlay, 'packages/native', ADDON));
    for (const o of tier.npmOverlay) {
      const version = require(path.join(REPO, 'node_modules', o.versionOf, 'package.json')).version;
      const pkg = fetch.fetchNpm(cacheDir, `${o.name}@${version}`);
      fs.cpSync(pkg, path.join(overlay, 'node_modules', o.name), { recursive: true });
    }
  }
  return { kernel, initrd, kver, asm };
}

async function main() {
  const [arch, ...jestArgs] = process.argv.slice(2);
  const tier = TIERS[arch];
  if (!tier) throw new NestedError('usage', `node scripts/nested/run.js <${Object.keys(TIERS).join('|')}> [jest args]`);
  setLogPrefix(`[${tier.tier}]`);
  const cacheDir = mkdirp(process.env.KVMTS_NESTED_CACHE || path.join(os.homedir(), '.cache', 'kvmts', 'nested'));
  const timeoutMs = Number(process.env.KVMTS_NESTED_TIMEOUT || 540) * 1000;
  const idleMs = Number(process.env.KVMTS_NESTED_IDLE_TIMEOUT || 240) * 1000;
  const logDir = mkdirp(path.join(REPO, '.cache', 'nested', 'logs'));
  const logFile = path.join(logDir, `${tier.tier}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `kvmts-${tier.tier}-run-`));

  const t0 = Date.now();
  try {
    const m = prepare(arch, tier, cacheDir, runDir);
    fs.writeFileSync(path.join(runDir, 'run.env'), [
      `KVMTS_REPO=${shq(REPO)}`, `KVMTS_TIER=${shq(tier.tier)}`, `KVMTS_JEST_ARGS=${shq(jestArgs.join(' '))}`,
      `KVMTS_GUEST_CMD=${shq(process.env.KVMTS_NESTED_CMD ?? '')}`,
      `KVMTS_NODE_OPTIONS=${shq(process.env.KVMTS_NESTED_NODE_OPTIONS ?? tier.nodeOptions)}`,
      `KVMTS_TEST_TIMEOUT_MS=${TEST_TIMEOUT_MS}`, '',
    ].join('\n'));
    const prepMs = Date.now() - t0;
    log(`prepared in ${seconds(prepMs)} (kernel ${m.kver}, guest programs: ${m.asm.join(', ') || 'none'}); booting`);

    const times = {};
    const running = {};
    const result = await boot({
      bin: tier.qemu.bin, args: [...tier.qemu.args, ...(process.env.KVMTS_NESTED_QEMU_EXTRA ?? '').split(/\s+/).filter(Boolean)], kernel: m.kernel, initrd: m.initrd,
      append: `console=${tier.console} panic=-1 quiet loglevel=3`,
      shares: [{ tag: 'repo', path: REPO }, { tag: 'kvmts', path: runDir },
        // Jest's transform cache survives the guest: warm runs skip the TypeScript transpiles.
        { tag: 'jestcache', path: mkdirp(path.join(cacheDir, `jest-${tier.tier}`)), writable: true }],
      logFile, timeoutMs, idleMs,
      onMarker: (kind, fields, ms) => {
        times[kind] = ms;
        if (kind === 'ready') log(`emulated host ready after ${seconds(ms)} (${fields.slice(1).join(' ')})`);
        if (kind === 'error') log(`guest error: ${fields.join(' ')}`);
        if (kind === 'modfail') log(`guest: insmod ${fields[0]} failed`);
        if (kind === 'suite-start') { running.suite = fields[0]; log(`${fields[0]} …`); }
        if (kind === 'test-start') running.test = `${fields[0]} ${fields.slice(1).join(' ')}`;
        if (kind === 'test-done') running.test = undefined;
        if (kind === 'suite-done') {
          running.suite = undefined;
          log(`${fields[0]}: ${fields[1]} passed, ${fields[2]} failed${fields[4] ? ', could not run' : ''} (${seconds(Number(fields[3]))})`);
        }
      },
    });
    return report(tier, result, times, running, prepMs, Date.now() - t0, logFile, { timeoutMs, idleMs });
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

/** Prints the outcome and returns the exit code. */
function report(tier, r, times, running, prepMs, totalMs, logFile, limits) {
  const counts = r.markers.get('counts');
  const exit = r.markers.get('exit');
  const problems = [];
  const why = {
    idle: `timeout: the emulated host printed nothing for ${seconds(limits.idleMs)} (hung)`,
    total: `timeout: the emulated host did not finish in ${seconds(limits.timeoutMs)}`,
    wedged: 'the emulated host\'s kernel reported a lockup or panic (see the log)',
  };
  if (r.timedOut) problems.push(why[r.timedOut] +
    (running.test ? `; running: ${running.test.replace(/_/g, ' ')}` : running.suite ? `; running: ${running.suite}` : ''));
  if (r.markers.has('nokvm')) problems.push('/dev/kvm is missing inside the emulated host');
  if (r.markers.has('error')) problems.push(`guest error: ${r.markers.get('error').join(' ')}`);
  if (!exit && !r.timedOut) problems.push(`the emulated host stopped without reporting (qemu exit ${r.code ?? r.signal})`);
  if (exit && exit[0] !== '0') problems.push(`${r.markers.has('jest-done') ? 'jest' : 'the guest'} exited ${exit[0]}`);
  let passed = 0;
  let failed = 1; // a tier that could not report counts as one failure
  let skipped = 0;
  if (counts) {
    passed = Number(counts[0]);
    // A suite that fails to load has no failed tests but is a failure all the same.
    failed = Number(counts[1]) + Number(counts[2]);
    skipped = Number(counts[4] ?? 0);
    if (Number(counts[3]) === 0) problems.push('no test ran');
  }
  const jestMs = times['jest-done'] !== undefined && times.ready !== undefined ? times['jest-done'] - times.ready : undefined;
  log(`times: prepare ${seconds(prepMs)}, boot to ready ${times.ready !== undefined ? seconds(times.ready) : '-'}, ` +
    `jest ${jestMs !== undefined ? seconds(jestMs) : '-'}, total ${seconds(totalMs)}`);
  const ok = problems.length === 0 && failed === 0;
  if (ok && !process.env.KVMTS_NESTED_KEEP_LOG) fs.rmSync(logFile, { force: true });
  else log(`console log: ${logFile}`);
  for (const p of problems) log(`FAILED: ${p}`);
  process.stdout.write(`${tier.tier}: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  return ok ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  log(e instanceof NestedError ? e.message : e.stack);
  process.exitCode = 2;
});
