'use strict';
/**
 * `npm run bench -- boot --arch <arch> [--runs 5] [--cpus N] [--json]`: the same Linux kernel
 * and initramfs booted by kvmts (`kvmts boot`) and by QEMU with KVM, on the same host in the
 * same run; the time from spawning each VMM process to the first userspace output (the init
 * script's marker line). Runs alternate QEMU, kvmts, …; medians are reported.
 *
 * Where this host cannot run the arch's KVM guests (this machine: x86 without /dev/kvm), the
 * benchmark runs itself inside the nested tier's emulated host of that arch, with the tier's
 * QEMU shared in (KVMTS_NESTED_GUEST_QEMU=1), and relays the results.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { newcArchive } = require('@kvmts/core');
const { BenchError } = require('./lib/errors');
const { median } = require('./lib/stats');
const { timedBoot } = require('./lib/boot-run');

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'packages', 'cli', 'dist', 'bin.js');
const MEMORY = '256M';
/** The whole guest userspace: print the marker first, then power off. */
const MARKER = 'kvmts-bench: userspace reached';
const INIT = `#!/bin/busybox sh\n/bin/busybox echo "${MARKER}"\n/bin/busybox poweroff -f\n`;
/** Target: kvmts no slower than QEMU. */
const TARGET = 1.0;

/**
 * Per arch: how to get the guest's kernel and busybox, how QEMU boots them, which nested tier
 * runs the benchmark where this host cannot. `notYet` says why an arch has no boot benchmark.
 */
const ARCHES = {
  arm64: {
    nodeArch: 'arm64',
    nestedTier: 'arm64',
    // The kernel: the nested host's own Debian Image, or one named for a real arm64 host.
    kernelEnv: ['KVMTS_BENCH_KERNEL', 'KVMTS_GUEST_KERNEL'],
    console: 'ttyAMA0',
    qemuBin: 'qemu-system-aarch64',
    // The baselines (the first names the main scenarios; the others add `-<name>`).
    baselines: [
      { name: 'virt', args: (cpus) => ['-M', 'virt,gic-version=3', '-enable-kvm', '-cpu', 'host', '-m', MEMORY, '-smp', String(cpus)] },
    ],
  },
  x86_64: {
    nodeArch: 'x64',
    nestedTier: 'x86',
    // The emulated host's L1 set-up (lib/tiers.js profiles): with the tier's default
    // single-threaded TCG, QEMU's L2 kernels hang at random points in early boot (kvmts' do not);
    // with multi-threaded TCG they boot (docs/testing.md, "Linux as an L2 guest").
    nestedL1: 'tcg-multi',
    // The nested host's own Debian bzImage, or one named for a real x86 host.
    kernelEnv: ['KVMTS_BENCH_KERNEL', 'KVMTS_GUEST_KERNEL'],
    console: 'ttyS0',
    qemuBin: 'qemu-system-x86_64',
    // microvm: QEMU's smallest x86 machine (Firecracker-like: no PCI, no firmware beyond qboot),
    // the one kvmts must beat; q35 as a full PC with SeaBIOS and ACPI.
    baselines: [
      { name: 'microvm', args: (cpus) => ['-M', 'microvm', '-enable-kvm', '-cpu', 'host', '-m', MEMORY, '-smp', String(cpus)] },
      { name: 'q35', args: (cpus) => ['-M', 'q35', '-enable-kvm', '-cpu', 'host', '-m', MEMORY, '-smp', String(cpus)] },
    ],
  },
};

const description = 'Linux boot to the first userspace output, kvmts vs QEMU with KVM (same kernel, initramfs, memory, vCPUs)';

function header(options) {
  return `boot: ${options.arch ?? hostArch()} Linux, ${MEMORY}, ${options.runs} alternating runs per side (median), time from spawning the VMM to '${MARKER}'`;
}

function hostArch() {
  return { arm64: 'arm64', x64: 'x86_64' }[process.arch] ?? process.arch;
}

/** Why this host cannot run the benchmark itself, or undefined when it can. */
function cannotRunHere(spec) {
  if (process.arch !== spec.nodeArch) return `this host is ${process.arch}`;
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return undefined;
  } catch (err) {
    return `/dev/kvm cannot be opened (${err.code})`;
  }
}

/** The first of `names` set in the environment, naming all of them when none is. */
function fromEnv(names, what) {
  for (const n of names) if (process.env[n]) return process.env[n];
  throw new BenchError(`${what}: set ${names.join(' or ')}`);
}

/**
 * The guest inputs in `dir`: the kernel (as given) and an initramfs of a static busybox and the
 * init script. KVMTS_BENCH_BUSYBOX names the busybox (default /bin/busybox, the nested host's).
 */
function guestInputs(spec, dir) {
  const kernel = fromEnv(spec.kernelEnv, 'the guest kernel');
  const busyboxFile = process.env.KVMTS_BENCH_BUSYBOX || '/bin/busybox';
  let busybox;
  try {
    busybox = fs.readFileSync(busyboxFile);
  } catch (err) {
    throw new BenchError(`the guest's busybox ${busyboxFile}: ${err.message} (KVMTS_BENCH_BUSYBOX names a static one)`, { cause: err });
  }
  const initrd = path.join(dir, 'initrd.cpio');
  fs.writeFileSync(initrd, newcArchive([
    { path: 'bin', kind: 'dir' },
    { path: 'bin/busybox', kind: 'file', mode: 0o755, data: busybox },
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from(INIT) },
  ]));
  return { kernel, initrd };
}

/**
 * The command lines of both sides for `cpus` vCPUs. The kernel command line is the same: kvmts
 * adds console= and panic=-1 to `quiet` (checked against its --json report after each run).
 */
function commands(spec, inputs, cpus, words = 'quiet') {
  const append = `console=${spec.console} ${words} panic=-1`;
  const qemuLibs = process.env.KVMTS_GUEST_QEMU_LIBS;
  const qemuBin = process.env.KVMTS_GUEST_QEMU || spec.qemuBin;
  const baselines = spec.baselines.map((b, i) => ({
    label: spec.baselines.length > 1 ? `QEMU ${b.name}` : 'QEMU',
    name: b.name,
    // The first baseline's scenarios keep the plain names; the others add their machine's.
    suffix: i === 0 ? '' : `-${b.name}`,
    bin: qemuBin,
    // -no-reboot: a panic (panic=-1 reboots) ends QEMU instead of looping; -nodefaults: no
    // NIC, no monitor, no default devices kvmts does not have either.
    args: [...b.args(cpus), ...qemuDataArgs(qemuBin), '-nographic', '-nodefaults', '-serial', 'stdio', '-no-reboot',
      '-kernel', inputs.kernel, '-initrd', inputs.initrd, '-append', append],
    env: qemuLibs ? { ...process.env, LD_LIBRARY_PATH: qemuLibs } : process.env,
    marker: MARKER,
  }));
  return {
    append,
    qemu: baselines[0],
    baselines,
    kvmts: {
      label: 'kvmts',
      bin: process.execPath,
      args: [CLI, 'boot', '--kernel', inputs.kernel, '--initrd', inputs.initrd, '--append', words,
        '--mem', MEMORY, '--cpus', String(cpus), '--json', '--ready-marker', MARKER],
      marker: MARKER,
    },
  };
}

/**
 * A QEMU shared into the nested host (KVMTS_GUEST_QEMU) lives outside /usr: point it at the
 * firmware and data copied next to it (usr/share/qemu beside usr/bin), when there are any.
 */
function qemuDataArgs(bin) {
  if (!process.env.KVMTS_GUEST_QEMU) return [];
  const data = path.join(path.dirname(bin), '..', 'share', 'qemu');
  return fs.existsSync(data) ? ['-L', data] : [];
}

/** kvmts boot's --json summary (its last stdout line), checked to be the boot we asked for. */
function kvmtsSummary(stdout, append) {
  const last = stdout.trim().split('\n').pop();
  let summary;
  try {
    summary = JSON.parse(last);
  } catch (err) {
    throw new BenchError(`kvmts boot printed no JSON summary: ${last}`, { cause: err });
  }
  if (summary.cmdline !== append) throw new BenchError(`kvmts booted with '${summary.cmdline}', QEMU with '${append}': not the same boot`);
  if (typeof summary.readyMs !== 'number' || typeof summary.startMs !== 'number') {
    throw new BenchError(`kvmts boot --json has no readyMs/startMs: ${last}`);
  }
  return summary;
}

const ms = (ns) => Math.round(ns / 1e5) / 10;

/**
 * The scenarios of one vCPU count from its samples (ns): `boot-<arch>-<n>cpu`, spawn → marker
 * on both sides against the first baseline; `…-inprocess`, kvmts' own machine.run() → marker
 * against the same QEMU figure (kvmts without its process start-up: what a long-lived kvmts
 * process would see); `…-<machine>` against each further baseline (x86: q35). The main
 * scenario also carries kvmts' memory beyond guest RAM when measured (MiB, medians).
 * @param {{ qemu: number[], others?: Record<string, number[]>, kvmts: number[], kvmtsReady: number[],
 *           kvmtsStart: number[], kvmtsVmmKiB?: number[], bareNodeKiB?: number }} s
 */
function scenarios(arch, cpus, s) {
  const qemu = median(s.qemu);
  const kvmts = median(s.kvmts);
  const ready = median(s.kvmtsReady);
  const name = `boot-${arch}-${cpus}cpu`;
  const main = {
    scenario: name, kvmts_ns_per_op: kvmts, baseline_ns_per_op: qemu, ratio: kvmts / qemu, target: TARGET,
    extra: { runs: s.qemu.length, kvmts_ms: s.kvmts.map(ms), baseline_ms: s.qemu.map(ms), kvmts_start_ms: ms(median(s.kvmtsStart)), ...(Object.keys(s.failedRuns ?? {}).length ? { failed_runs: s.failedRuns } : {}) },
  };
  if (s.kvmtsVmmKiB?.length) {
    const mib = (kib) => Math.round(kib / 102.4) / 10;
    const vmm = median(s.kvmtsVmmKiB);
    Object.assign(main.extra, { kvmts_vmm_rss_mib: mib(vmm), bare_node_rss_mib: mib(s.bareNodeKiB), over_bare_node_mib: mib(vmm - s.bareNodeKiB) });
  }
  return [
    main,
    {
      scenario: `${name}-inprocess`, kvmts_ns_per_op: ready, baseline_ns_per_op: qemu, ratio: ready / qemu, target: TARGET,
      extra: { runs: s.kvmtsReady.length, kvmts_ms: s.kvmtsReady.map(ms) },
    },
    ...Object.entries(s.others ?? {}).map(([machine, samples]) => ({
      scenario: `${name}-${machine}`, kvmts_ns_per_op: kvmts, baseline_ns_per_op: median(samples), ratio: kvmts / median(samples), target: TARGET,
      extra: { runs: samples.length, kvmts_ms: s.kvmts.map(ms), baseline_ms: samples.map(ms) },
    })),
  ];
}

/** A bare Node process's resident set (KiB): what kvmts' own memory is compared with. */
function bareNodeRssKiB() {
  const script = "process.stdout.write(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])";
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

/**
 * One timed boot of `side`; a boot that fails is booted once more (said through `note`, and
 * counted in the result's `failed_runs`), so that one lost boot of a VMM under an emulated CPU
 * (seen: QEMU microvm's L2 kernel powering off with its console output lost) does not throw
 * away a quarter of an hour of runs. A second failure ends the benchmark.
 */
async function bootRetryingOnce(side, note) {
  try {
    return await timedBoot(side);
  } catch (e) {
    if (!(e instanceof BenchError)) throw e;
    note(e.message.split('\n')[0]);
    return { ...(await timedBoot(side)), retried: true };
  }
}

/** Boots every side `runs` times each, alternating, after one untimed boot of each. */
async function measure(arch, spec, cpus, runs, inputs, progress, warmup) {
  const cmd = commands(spec, inputs, cpus);
  const [first, ...rest] = cmd.baselines;
  const s = { qemu: [], others: Object.fromEntries(rest.map((b) => [b.name, []])), kvmts: [], kvmtsReady: [], kvmtsStart: [], kvmtsVmmKiB: [], bareNodeKiB: bareNodeRssKiB(), failedRuns: {} };
  const samplesOf = (side) => (side === first ? s.qemu : s.others[side.name]);
  const one = async (side, i) => {
    const r = await bootRetryingOnce(side, (why) => progress(`  ${cpus} vCPU ${i < 0 ? 'warm-up' : `run ${i + 1}/${runs}`}: ${side.label} failed, booting it once more: ${why}`));
    if (r.retried) s.failedRuns[side.label] = (s.failedRuns[side.label] ?? 0) + 1;
    let detail = '';
    if (side === cmd.kvmts) {
      const summary = kvmtsSummary(r.stdout, cmd.append);
      if (i >= 0) {
        s.kvmtsReady.push(summary.readyMs * 1e6);
        s.kvmtsStart.push(summary.startMs * 1e6);
        if (summary.hostMemory) s.kvmtsVmmKiB.push(summary.hostMemory.vmmRssKiB);
      }
      detail = ` (process start → machine.run ${(summary.startMs / 1000).toFixed(2)} s, run → marker ${(summary.readyMs / 1000).toFixed(2)} s` +
        `${summary.hostMemory ? `, ${(summary.hostMemory.vmmRssKiB / 1024).toFixed(1)} MiB beyond guest RAM` : ''})`;
      if (i >= 0) s.kvmts.push(r.ns);
    } else if (i >= 0) samplesOf(side).push(r.ns);
    progress(`  ${cpus} vCPU ${i < 0 ? 'warm-up' : `run ${i + 1}/${runs}`}: ${side.label.padEnd(12)} ${(r.ns / 1e9).toFixed(2)} s${detail}`);
  };
  const sides = [...cmd.baselines, cmd.kvmts];
  // The warm-up fills the page cache (kernel, initramfs, QEMU's libraries, kvmts' modules) for
  // all alike, and shows that each side boots at all before the timed runs.
  if (warmup) for (const side of sides) await one(side, -1);
  for (let i = 0; i < runs; i++) for (const side of sides) await one(side, i);
  return scenarios(arch, cpus, s);
}

async function runHere(arch, spec, options, progress) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-bench-boot-'));
  try {
    const inputs = guestInputs(spec, dir);
    const results = [];
    const cpuCounts = options.cpus !== undefined ? [options.cpus] : [1, 2];
    for (const [i, cpus] of cpuCounts.entries()) results.push(...(await measure(arch, spec, cpus, options.runs, inputs, progress, i === 0)));
    return results;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The result lines a nested run relayed: JSON objects with a scenario, back into results
 * (their other fields as `extra`); every other line is the emulated host's console.
 */
function parseRelayed(lines) {
  const results = [];
  for (const line of lines) {
    const text = line.trim();
    if (!text.startsWith('{"scenario"')) continue;
    const { scenario, kvmts_ns_per_op, baseline_ns_per_op, ratio, ...extra } = JSON.parse(text);
    results.push({ scenario, kvmts_ns_per_op, baseline_ns_per_op, ratio, target: TARGET, extra });
  }
  return results;
}

/** Runs this benchmark with --json inside the tier's emulated host; relays its results. */
async function runNested(arch, spec, options, why, progress) {
  progress(`boot: ${why}, so the benchmark runs inside the nested ${spec.nestedTier} host (QEMU TCG with a KVM of its own; several minutes)`);
  const inner = ['node', 'scripts/bench/run.js', 'boot', '--arch', arch, '--runs', String(options.runs), '--json',
    ...(options.cpus !== undefined ? ['--cpus', String(options.cpus)] : [])].join(' ');
  const boots = (options.runs + 1) * (spec.baselines.length + 1) * (options.cpus !== undefined ? 1 : 2);
  const env = {
    ...process.env,
    KVMTS_NESTED_CMD: inner,
    KVMTS_NESTED_GUEST_QEMU: '1',
    KVMTS_NESTED_SHARDS: '1',
    ...(spec.nestedL1 && !process.env.KVMTS_NESTED_L1 ? { KVMTS_NESTED_L1: spec.nestedL1 } : {}),
    // The emulated host's boot and set-up, then up to 120 s per boot (they take 10–100 s:
    // arm64 ~30 s; x86 Linux 60–110 s on a loaded machine).
    KVMTS_NESTED_TIMEOUT: process.env.KVMTS_NESTED_TIMEOUT || String(300 + boots * 120),
  };
  const child = spawn(process.execPath, [path.join(REPO, 'scripts', 'nested', 'run.js'), spec.nestedTier], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let partial = '';
  child.stdout.on('data', (chunk) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      // The emulated host's console, the inner progress among it: shown as progress.
      if (!line.trim().startsWith('{"scenario"')) process.stderr.write(`${line}\n`);
    }
  });
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? signal));
  });
  if (partial) lines.push(partial);
  const results = parseRelayed(lines);
  if (code !== 0 || results.length === 0) throw new BenchError(`the nested ${spec.nestedTier} run ended with ${code} and ${results.length} result(s): see its output above`);
  return results;
}

async function runBoot(options, progress) {
  const arch = options.arch ?? hostArch();
  const spec = ARCHES[arch];
  if (!spec) throw new BenchError(`boot --arch ${arch}: no such arch (known: ${Object.keys(ARCHES).join(', ')})`);
  if (spec.notYet) throw new BenchError(`boot --arch ${arch}: ${spec.notYet}`);
  const why = cannotRunHere(spec);
  if (why === undefined) return runHere(arch, spec, options, progress);
  if (process.env.KVMTS_NESTED) throw new BenchError(`boot --arch ${arch}: ${why}, and this is already the nested host`);
  return runNested(arch, spec, options, why, progress);
}

/** The human table: seconds, the ratio, the target, and kvmts' start-up. */
function humanLines(results) {
  const rows = [['scenario', 'kvmts s', 'QEMU s', 'ratio', 'target', '', 'kvmts start-up s', 'MiB over bare Node']];
  for (const r of results) {
    rows.push([r.scenario, (r.kvmts_ns_per_op / 1e9).toFixed(2), (r.baseline_ns_per_op / 1e9).toFixed(2), r.ratio.toFixed(3),
      `≤ ${r.target.toFixed(2)}`, r.ratio <= r.target ? 'PASS' : 'FAIL',
      r.extra?.kvmts_start_ms === undefined ? '' : (r.extra.kvmts_start_ms / 1000).toFixed(2),
      r.extra?.over_bare_node_mib === undefined ? '' : r.extra.over_bare_node_mib.toFixed(1)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return ['median of runs:', ...rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))];
}

module.exports = { description, header, runBoot, humanLines, scenarios, parseRelayed, kvmtsSummary, commands, guestInputs, ARCHES, MARKER };
