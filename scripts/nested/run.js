#!/usr/bin/env node
'use strict';
/**
 * Runs one nested test tier inside a QEMU-emulated host that has a real /dev/kvm.
 *
 *   node scripts/nested/run.js <x86|arm64> [jest args, e.g. a path pattern]
 *
 * Environment (all optional; docs/testing.md has the table):
 *   KVMTS_NESTED_CACHE         cache directory (default ~/.cache/kvmts/nested)
 *   KVMTS_NESTED_TIMEOUT       seconds for the whole emulated run (default 840; a hang is caught sooner by the idle timeout)
 *   KVMTS_NESTED_IDLE_TIMEOUT  seconds without console output before the guest counts as hung (240)
 *   KVMTS_NESTED_SHARDS        emulated hosts the tier's test files are split over (default 2)
 *   KVMTS_NESTED_KEEP_LOG=1    keep the console log of a passing run
 *   KVMTS_NESTED_QEMU_EXTRA    more QEMU arguments, e.g. "-smp 4"
 *   KVMTS_NESTED_L1            an L1 profile of the tier for every emulated host of the run (lib/tiers.js,
 *                              qemu.profiles; x86: tcg-multi), e.g. to measure L2 Linux boots in it
 *   KVMTS_NESTED_QEMU          which QEMU runs the emulated hosts: a build of the tier (lib/tiers.js,
 *                              qemu.builds: system or backports), default the tier's defaultBuild
 *                              (nested-x86: system, nested-arm64: backports)
 *   KVMTS_NESTED_NODE_OPTIONS  NODE_OPTIONS inside the guest (default per tier)
 *   KVMTS_NESTED_CMD           a shell command run in the repo inside the guest instead of jest; its status is the result
 *   KVMTS_NESTED_GUEST_QEMU=1  share the tier's own-arch QEMU into the guest ($KVMTS_GUEST_QEMU there; lib/guest-qemu.js)
 *   KVMTS_SKIP_SUITES          set by scripts/test/run-tiers.js: suites (repo-relative, comma-separated)
 *                              another emulated host of the same npm test runs instead (jest.config.js)
 *   KVMTS_KVM_SUITES           set by scripts/test/run-tiers.js: `host` leaves the *.kvm.test.ts
 *                              suites out of nested-x86 (jest.config.js), `split` all but those a PVM
 *                              host cannot run (test-support/host-kvm.js); unset, they run here too
 * The test files are split over KVMTS_NESTED_SHARDS emulated hosts running at once (lib/shards.js).
 * Prints "<tier>: N passed, N failed, N skipped" last, summed over them; exits non-zero on
 * failures, on a timeout or kernel lockup of any of them (hung emulated host), when /dev/kvm is
 * missing inside, or when one never reported. The console log of a failed host is kept and its
 * path printed.
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
const { resolveQemu } = require('./lib/qemu-builds');
const { listTests, loadDurations, saveDurations, planShards } = require('./lib/shards');
const { warmJestCache } = require('./lib/jest-warm');
const guestQemu = require('./lib/guest-qemu');
const { extractVmlinux } = require('./lib/vmlinux');
const { l1Args } = require('./lib/l1-profiles');
const { FAILED_TEST_PREFIX } = require('../test/lib/failures');

const REPO = path.resolve(__dirname, '..', '..');
const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** The suite that runs the examples of the scratch project (packages/cli/test). */
const SCRATCH_SUITE = 'packaging.kvm.test.ts';

/** Packs the packages into a type-checked scratch project (cached by the tarballs' hash); returns its directory. */
function prepareScratchProject() {
  const scratch = require('../pack/scratch-project');
  const project = scratch.createScratchProject({ log: (line) => log(`scratch project: ${line}`) });
  const compiled = scratch.compile(project.dir);
  if (!compiled.ok) throw new NestedError('scratch project', `${project.dir} does not type-check:\n${compiled.output}`);
  return project.dir;
}

/** Fetches and builds everything the guest needs; returns the boot material. */
function prepare(arch, tier, cacheDir, runDir) {
  fetch.ensureHostPackages([...COMMON_HOST_PACKAGES, ...tier.hostPackages]);
  const qemu = resolveQemu(cacheDir, tier); // first: a wrong KVMTS_NESTED_QEMU fails before the rest
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

  // The per-run share: assembled guest programs, the jest helpers and the overlay of guest-arch
  // files (run.env and the shard plan are written per emulated host by main()).
  const addon = buildNative(REPO, cacheDir, tier.native);
  const asm = assembleGuests(arch, tier.assembler, path.join(runDir, 'asm'));
  // The tier's own kernel, for suites that boot it as a guest of their own ($KVMTS_GUEST_KERNEL;
  // on arm64 it is an uncompressed Image that arch-arm64 boots).
  fs.mkdirSync(path.join(runDir, 'kernel'));
  fs.copyFileSync(kernel, path.join(runDir, 'kernel', 'vmlinuz'));
  // x86: the ELF vmlinux inside it too, next to it, for the PVH boot (lib/vmlinux.js).
  if (tier.vmlinux) fs.copyFileSync(extractVmlinux(cacheDir, kernel), path.join(runDir, 'kernel', 'vmlinux'));
  for (const f of ['progress-reporter.js', 'shard-sequencer.js']) fs.copyFileSync(path.join(__dirname, 'guest', f), path.join(runDir, f));
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
  // QEMU for inside the guest, only when asked for (a benchmark's baseline).
  const guestQemuTree = process.env.KVMTS_NESTED_GUEST_QEMU === '1' ? guestQemu.prepareGuestQemu(cacheDir, tier, libTrees) : null;
  return { kernel, initrd, kver, asm, qemu, guestQemu: guestQemuTree };
}

async function main() {
  const [arch, ...jestArgs] = process.argv.slice(2);
  const tier = TIERS[arch];
  if (!tier) throw new NestedError('usage', `node scripts/nested/run.js <${Object.keys(TIERS).join('|')}> [jest args]`);
  setLogPrefix(`[${tier.tier}]`);
  const cacheDir = mkdirp(process.env.KVMTS_NESTED_CACHE || path.join(os.homedir(), '.cache', 'kvmts', 'nested'));
  const limits = {
    timeoutMs: Number(process.env.KVMTS_NESTED_TIMEOUT || 840) * 1000,
    idleMs: Number(process.env.KVMTS_NESTED_IDLE_TIMEOUT || 240) * 1000,
  };
  const shardCount = Number(process.env.KVMTS_NESTED_SHARDS || 2);
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new NestedError('usage', `KVMTS_NESTED_SHARDS=${process.env.KVMTS_NESTED_SHARDS}: expected a whole number ≥ 1`);
  const debugCmd = process.env.KVMTS_NESTED_CMD ?? '';

  const t0 = Date.now();
  // The guest mounts it at this same path: jest's cache keys include the cache directory.
  const jestCache = mkdirp(path.join(cacheDir, `jest-${tier.tier}`));
  // A debugging command runs once, in one emulated host; jest runs get a shard plan.
  let plan = null;
  let scratchProject = '';
  if (!debugCmd) {
    const files = listTests(REPO, tier.tier, jestArgs, jestCache);
    // The packed packages installed in a scratch project outside the repo (npm needs the
    // registry, which the emulated host has not): built here, shared read-only at the same path.
    if (tier.scratchProject && files.some((f) => f.endsWith(SCRATCH_SUITE))) scratchProject = prepareScratchProject();
    if (files.length === 0) throw new NestedError('jest --listTests', `no test file of ${tier.tier} matches ${jestArgs.join(' ') || 'the tier'}`);
    plan = planShards(REPO, files, loadDurations(cacheDir, tier.tier), shardCount);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = mkdirp(path.join(REPO, '.cache', 'nested', 'logs'));
  const count = plan ? plan.length : 1;
  const shards = Array.from({ length: count }, (_, i) => ({
    tag: count > 1 ? `${i + 1}/${count}` : '',
    jestShard: plan ? `${i + 1}/${count}` : '', // jest's --shard inside the guest
    runDir: fs.mkdtempSync(path.join(os.tmpdir(), `kvmts-${tier.tier}-run-`)),
    logFile: path.join(logDir, `${tier.tier}-${stamp}${count > 1 ? `-${i + 1}` : ''}.log`),
    // The L1 profile (KVMTS_NESTED_L1; '' = the tier's default set-up).
    profile: process.env.KVMTS_NESTED_L1 || '',
  }));
  try {
    const m = prepare(arch, tier, cacheDir, shards[0].runDir);
    if (plan) log(`jest cache: ${warmJestCache(REPO, tier.tier, jestCache)} TypeScript files transformed or found on the host`);
    for (const s of shards) {
      if (s !== shards[0]) fs.cpSync(shards[0].runDir, s.runDir, { recursive: true });
      if (plan) fs.writeFileSync(path.join(s.runDir, 'shards.json'), JSON.stringify(plan.map((p) => p.files)));
      fs.writeFileSync(path.join(s.runDir, 'run.env'), [
        `KVMTS_REPO=${shq(REPO)}`, `KVMTS_TIER=${shq(tier.tier)}`, `KVMTS_JEST_ARGS=${shq(jestArgs.join(' '))}`,
        `KVMTS_SHARD=${shq(s.jestShard)}`, `KVMTS_KVM_SUITES=${shq(process.env.KVMTS_KVM_SUITES ?? '')}`,
        `KVMTS_SKIP_SUITES=${shq(process.env.KVMTS_SKIP_SUITES ?? '')}`,
        `KVMTS_JEST_CACHE=${shq(jestCache)}`, `KVMTS_SCRATCH_PROJECT=${shq(scratchProject)}`,
        `KVMTS_GUEST_CMD=${shq(debugCmd)}`,
        // The emulator that is the guest's CPU: suites gate on what its nested virtualization can do.
        `KVMTS_L0_QEMU_VERSION=${shq(m.qemu.version)}`,
        // The L1 set-up this host runs ('' = the tier's default): suites gate on what it can run.
        `KVMTS_L1_PROFILE=${shq(s.profile)}`,
        `KVMTS_NODE_OPTIONS=${shq(process.env.KVMTS_NESTED_NODE_OPTIONS ?? tier.nodeOptions)}`,
        ...Object.entries(m.guestQemu ? guestQemu.guestQemuEnv(m.guestQemu) : {}).map(([k, v]) => `${k}=${shq(v)}`), '',
      ].join('\n'));
    }
    const prepMs = Date.now() - t0;
    const split = count > 1 ? ` ${count} emulated hosts: ${plan.map((p, i) => `${i + 1}/${count}: ${p.files.length} file(s)${shards[i].profile ? ` (L1 ${shards[i].profile})` : ''}`).join(', ')}` : '';
    log(`prepared in ${seconds(prepMs)} (${m.qemu.label}, kernel ${m.kver}, guest programs: ${m.asm.join(', ') || 'none'}); booting${split}`);
    const extra = (process.env.KVMTS_NESTED_QEMU_EXTRA ?? '').split(/\s+/).filter(Boolean);
    const outcomes = await Promise.all(shards.map((s) => runShard(tier, m, s, [...l1Args(tier, s.profile), ...m.qemu.args, ...extra], jestCache, scratchProject, limits)));
    saveDurations(cacheDir, tier.tier, Object.assign({}, ...outcomes.map((o) => o.measured)));
    return debugCmd ? reportCommand(tier, outcomes[0], prepMs, Date.now() - t0, limits) : report(tier, outcomes, prepMs, Date.now() - t0, limits);
  } finally {
    for (const s of shards) fs.rmSync(s.runDir, { recursive: true, force: true });
  }
}

/** Boots one emulated host for one shard and follows its markers. */
async function runShard(tier, m, shard, qemuArgs, jestCache, scratchProject, limits) {
  const say = (msg) => log(shard.tag ? `${shard.tag}: ${msg}` : msg);
  const times = {};
  const running = {};
  const measured = {};
  /** Every suite that finished, with its counts: what a host that never reports still proved. */
  const suitesDone = [];
  /** One line per failed test (the guest reporter's `test-failed`), repeated at the end. */
  const failedTests = [];
  const result = await boot({
    bin: m.qemu.bin, env: m.qemu.env, args: qemuArgs, kernel: m.kernel, initrd: m.initrd,
    append: `console=${tier.console} panic=-1 quiet loglevel=3`,
    shares: [{ tag: 'repo', path: REPO }, { tag: 'kvmts', path: shard.runDir },
      // Jest's cache survives the guest (filled on the host first, lib/jest-warm.js) and is
      // shared by the shards: jest writes its cache files atomically.
      { tag: 'jestcache', path: jestCache, writable: true },
      ...(scratchProject ? [{ tag: 'scratch', path: scratchProject }] : []),
      ...(m.guestQemu ? [{ tag: guestQemu.SHARE_TAG, path: m.guestQemu.tree }] : [])],
    logFile: shard.logFile, prefix: shard.tag ? `[${shard.tag}] ` : '', ...limits,
    onMarker: (kind, fields, ms) => {
      times[kind] = ms;
      if (kind === 'ready') say(`emulated host ready after ${seconds(ms)} (${fields.slice(1).join(' ')})`);
      if (kind === 'error') say(`guest error: ${fields.join(' ')}`);
      if (kind === 'modfail') say(`guest: insmod ${fields[0]} failed`);
      if (kind === 'suite-start') {
        times.firstSuite ??= ms;
        running.suite = fields[0];
        say(`${fields[0]} …`);
      }
      if (kind === 'test-start') running.test = `${fields[0]} ${fields.slice(1).join(' ')}`;
      if (kind === 'test-done') running.test = undefined;
      if (kind === 'test-failed') failedTests.push(fields.join(' '));
      if (kind === 'suite-done') {
        running.suite = undefined;
        measured[fields[0]] = Number(fields[3]);
        suitesDone.push({ passed: Number(fields[1]), failed: Number(fields[2]) });
        say(`${fields[0]}: ${fields[1]} passed, ${fields[2]} failed${fields[4] ? ', could not run' : ''} (${seconds(Number(fields[3]))})`);
      }
    },
  });
  return { shard, result, times, running, measured, suitesDone, failedTests, say };
}

/** Prints the outcome of every emulated host and the summed closing line; returns the exit code. */
function report(tier, outcomes, prepMs, totalMs, limits) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let ok = true;
  // run-tiers.js gathers these into its closing list of failed tests: each failed test, and each
  // host's own problem (a host that hung, timed out or panicked names no failed test itself; its
  // problem, with the test that was running, stands for it).
  const failedLines = [];
  for (const o of outcomes) {
    const c = shardCounts(o, limits);
    failedLines.push(...o.failedTests, ...c.problems.map((p) => `emulated host${o.shard.tag ? ` ${o.shard.tag}` : ''}: ${p}`));
    passed += c.passed;
    failed += c.failed;
    skipped += c.skipped;
    const t = o.times;
    const span = (a, b) => (t[a] !== undefined && t[b] !== undefined ? seconds(t[b] - t[a]) : '-');
    o.say(`times: boot to ready ${t.ready !== undefined ? seconds(t.ready) : '-'}, jest start-up ${span('ready', 'firstSuite')}, ` +
      `jest ${span('ready', 'jest-done')}, emulated host ${seconds(o.result.elapsedMs)}`);
    const shardOk = c.problems.length === 0 && c.failed === 0;
    if (shardOk && !process.env.KVMTS_NESTED_KEEP_LOG) fs.rmSync(o.shard.logFile, { force: true });
    else o.say(`console log: ${o.shard.logFile}`);
    for (const p of c.problems) o.say(`FAILED: ${p}`);
    ok &&= shardOk;
  }
  log(`times: prepare ${seconds(prepMs)}, total ${seconds(totalMs)}`);
  for (const f of failedLines) process.stdout.write(`${FAILED_TEST_PREFIX}${f}\n`);
  process.stdout.write(`${tier.tier}: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  return ok ? 0 : 1;
}

/**
 * KVMTS_NESTED_CMD: no tests ran, so no counts — the command's own exit status is the result
 * (what `npm start` relies on where the host has no usable /dev/kvm).
 */
function reportCommand(tier, o, prepMs, totalMs, limits) {
  const problems = hostProblems(o, limits);
  const exit = o.result.markers.get('exit');
  const code = problems.length === 0 && exit ? Number(exit[0]) : 1;
  for (const p of problems) o.say(`FAILED: ${p}`);
  if (problems.length === 0 && code === 0 && !process.env.KVMTS_NESTED_KEEP_LOG) fs.rmSync(o.shard.logFile, { force: true });
  else o.say(`console log: ${o.shard.logFile}`);
  log(`times: prepare ${seconds(prepMs)}, total ${seconds(totalMs)}`);
  process.stdout.write(`${tier.tier}: the command exited ${exit ? exit[0] : '(no status: see above)'}\n`);
  return code;
}

/** What went wrong with the emulated host itself (hung, wedged, no KVM, no report). */
function hostProblems({ result: r, running }, limits) {
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
  if (!r.markers.get('exit') && !r.timedOut) problems.push(`the emulated host stopped without reporting (qemu exit ${r.code ?? r.signal})`);
  return problems;
}

/** One emulated host's counts and what went wrong in it. */
function shardCounts(o, limits) {
  const r = o.result;
  const counts = r.markers.get('counts');
  const exit = r.markers.get('exit');
  const problems = hostProblems(o, limits);
  // A jest that died (a signal: 128 + its number) names no failed test: the one it was running does.
  const runningNow = o.running.test ? `; running: ${o.running.test.replace(/_/g, ' ')}` : o.running.suite ? `; running: ${o.running.suite}` : '';
  if (exit && exit[0] !== '0') problems.push(`${r.markers.has('jest-done') ? 'jest' : 'the guest'} exited ${exit[0]}${Number(exit[0]) > 128 && !counts ? runningNow : ''}`);
  if (!counts) {
    // Jest never reported (the host hung, timed out or panicked): count the suites that finished
    // before that, plus one failure for the host itself, rather than throw their passes away.
    const done = o.suitesDone ?? [];
    const sum = (k) => done.reduce((n, d) => n + d[k], 0);
    return { passed: sum('passed'), failed: sum('failed') + 1, skipped: 0, problems };
  }
  if (Number(counts[3]) === 0) problems.push('no test ran');
  // A suite that fails to load has no failed tests but is a failure all the same.
  return { passed: Number(counts[0]), failed: Number(counts[1]) + Number(counts[2]), skipped: Number(counts[4] ?? 0), problems };
}

main().then((code) => { process.exitCode = code; }, (e) => {
  log(e instanceof NestedError ? e.message : e.stack);
  process.exitCode = 2;
});
