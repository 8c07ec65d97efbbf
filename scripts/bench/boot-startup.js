#!/usr/bin/env node
'use strict';
/**
 * Where `kvmts boot`'s start-up goes (process start → machine.run(), the boot benchmark's
 * `startMs`), step by step: the boot benchmark's guest (same kernel, initramfs, 256M, `quiet`)
 * booted a few times with `kvmts boot --json` (its `startupSteps`) and the code-cache loader's
 * trace (KVMTS_CODE_CACHE_TRACE=1), medians per step (lib/startup-breakdown.js).
 *
 *   node scripts/bench/boot-startup.js [--arch arm64|x86_64] [--cpus N] [--runs N] [--cli <kvmts bin.js>] [--before <kvmts bin.js>] [--read-inputs-side] [--side-env NAME=VALUE]… [--profile] [--json]
 *
 * Sides, alternating after one untimed boot of each (code caches, page cache), the order of
 * the sides rotating from round to round (so no side always boots first): `now`, this
 * checkout's CLI (or --cli: a copy of a build, so that this checkout can be rebuilt while a
 * nested run reads it); with --before, another build (e.g. the previous commit's, built in a copy of
 * the repository): the same steps, so one run compares both on the same loaded machine; with
 * --read-inputs-side, `now` once more with KVMTS_BOOT_READ_INPUTS=1 (`read`: the kernel and
 * initrd read into memory and copied into guest RAM, instead of read straight into it), whose
 * run → marker (readyMs) shows whether the guest's part depends on how the kernel got there;
 * each --side-env NAME=VALUE, `now` once more with that variable set (e.g. KVMTS_BOOT_COLLECT=0).
 * --profile: one more boot per side under `node --cpu-prof` (every thread), the profiles
 * written to --prof-dir and summed by function (lib/cpuprofile.js).
 * Like the boot benchmark it runs itself inside the arch's nested tier where this host cannot
 * run the guest; the repository is read-only there, so the profiles go to the tier's one
 * writable share (its jest cache directory, at the same path on both sides) and are copied to
 * .cache/boot-startup-prof/ here afterwards.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BenchError } = require('./lib/errors');
const { timedBoot } = require('./lib/boot-run');
const { ARCHES, commands, guestInputs, kvmtsSummary } = require('./boot');
const { startupPhases, medianPhases, phaseTable } = require('./lib/startup-breakdown');
const { median } = require('./lib/stats');
const { summarizeCpuProfile } = require('./lib/cpuprofile');
const { canRunHere, runInNestedTier } = require('./lib/boot-probe-host');

const REPO = path.resolve(__dirname, '..', '..');

function parseCommandLine(argv) {
  const o = { arch: { arm64: 'arm64', x64: 'x86_64' }[process.arch], cpus: 1, runs: 3, cli: undefined, before: undefined, readInputsSide: false, sideEnvs: [], profile: false, profDir: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) throw new BenchError(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--arch') o.arch = value();
    else if (a === '--cpus') o.cpus = Number(value());
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--before') o.before = path.resolve(value());
    else if (a === '--cli') o.cli = path.resolve(value());
    else if (a === '--read-inputs-side') o.readInputsSide = true;
    else if (a === '--side-env') {
      const setting = value();
      if (!/^[A-Z_][A-Z0-9_]*=/.test(setting)) throw new BenchError(`--side-env ${setting}: expected NAME=VALUE`);
      o.sideEnvs.push(setting);
    }
    else if (a === '--profile') o.profile = true;
    else if (a === '--prof-dir') o.profDir = path.resolve(value());
    else if (a === '--json') o.json = true;
    else throw new BenchError(`unknown option ${a} (known: --arch arm64|x86_64, --cpus N, --runs N, --cli <kvmts bin.js>, --before <kvmts bin.js>, --read-inputs-side, --side-env NAME=VALUE, --profile, --prof-dir <dir>, --json)`);
  }
  if (!ARCHES[o.arch]) throw new BenchError(`--arch ${o.arch}: known are ${Object.keys(ARCHES).join(', ')}`);
  for (const k of ['cpus', 'runs']) if (!Number.isInteger(o[k]) || o[k] < 1) throw new BenchError(`--${k} expects a whole number ≥ 1`);
  for (const k of ['cli', 'before']) if (o[k] !== undefined && !fs.existsSync(o[k])) throw new BenchError(`--${k} ${o[k]}: no such file`);
  return o;
}

/** Top functions of each profile in `dir` (main thread first: the largest file is not always it). */
function profileLines(dir, top = 25) {
  const lines = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.cpuprofile')).sort()) {
    const s = summarizeCpuProfile(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    lines.push(`${f}: ${s.totalMs} ms sampled`, '  self:', ...s.self.slice(0, top).map(([k, ms]) => `    ${String(ms).padStart(8)}  ${k}`),
      '  inclusive:', ...s.inclusive.slice(0, top).map(([k, ms]) => `    ${String(ms).padStart(8)}  ${k}`));
  }
  return lines;
}

/** `list` rotated left by `n`: round n's order of the sides (each side boots first in turn). */
function rotated(list, n) {
  const k = n % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function runHere(o, say) {
  const spec = ARCHES[o.arch];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-startup-'));
  try {
    const inputs = guestInputs(spec, dir);
    const cmd = commands(spec, inputs, o.cpus);
    const env = { ...process.env, KVMTS_CODE_CACHE_TRACE: '1' };
    const now = o.cli ?? cmd.kvmts.args[0];
    const sides = [
      { label: 'now', bin: now },
      ...(o.before ? [{ label: 'before', bin: o.before }] : []),
      ...(o.readInputsSide ? [{ label: 'read', bin: now, env: { KVMTS_BOOT_READ_INPUTS: '1' } }] : []),
      ...o.sideEnvs.map((setting) => ({ label: setting, bin: now, env: { [setting.slice(0, setting.indexOf('='))]: setting.slice(setting.indexOf('=') + 1) } })),
    ].map((s) => ({ ...s, boots: [], spawnMs: [], readyMs: [] }));
    const boot = async (side, nodeArgs = []) => {
      const r = await timedBoot({ label: side.label, bin: process.execPath, args: [...nodeArgs, side.bin, ...cmd.kvmts.args.slice(1)], env: { ...env, ...side.env }, marker: cmd.kvmts.marker });
      const summary = kvmtsSummary(r.stdout, cmd.append);
      return { r, summary, phases: startupPhases(summary, r.stderr) };
    };
    for (let i = -1; i < o.runs; i++) {
      for (const side of rotated(sides, Math.max(0, i))) {
        const { r, summary, phases } = await boot(side);
        say(`${i < 0 ? 'warm-up' : `run ${i + 1}/${o.runs}`}: ${side.label.padEnd(7)} start-up ${(phases.startMs / 1000).toFixed(2)} s, spawn → marker ${(r.ns / 1e9).toFixed(2)} s (code cache: ${phases.codeCache.cli}/${phases.codeCache.worker})`);
        if (i < 0) continue;
        side.boots.push(phases);
        side.spawnMs.push(Math.round(r.ns / 1e5) / 10);
        side.readyMs.push(summary.readyMs);
      }
    }
    if (o.profile) {
      for (const side of sides) {
        const profDir = path.join(o.profDir ?? path.join(dir, 'prof'), side.label);
        fs.mkdirSync(profDir, { recursive: true });
        // A profiled boot that fails (the profiler's SIGPROF once interrupted KVM_CREATE_VM:
        // EINTR) costs its profile, not the timed boots' results.
        const profiled = await boot(side, ['--cpu-prof', '--cpu-prof-dir', profDir]).catch((e) => ({ error: e }));
        if (profiled.error) {
          say(`profiled: ${side.label} failed under --cpu-prof: ${profiled.error.message.split('\n')[0]}`);
          continue;
        }
        say(`profiled: ${side.label} start-up ${(profiled.phases.startMs / 1000).toFixed(2)} s under --cpu-prof; profiles in ${profDir}`);
        if (!o.profDir) for (const line of profileLines(profDir)) say(line);
      }
    }
    return { arch: o.arch, cpus: o.cpus, sides: sides.map((s) => ({ label: s.label, spawnMs: s.spawnMs, startMs: s.boots.map((b) => b.startMs), readyMs: s.readyMs, median: medianPhases(s.boots) })) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(result, o) {
  const out = (line) => process.stdout.write(`${line}\n`);
  if (!o.json) {
    out(`boot-startup: ${result.arch}, ${result.cpus} vCPU(s); medians (ms) of ${result.sides[0].startMs.length} boot(s) per side`);
    // readyMs: machine.run() → marker, the guest's part (kvmts boot --json).
    const med = (values) => {
      const known = values.filter((v) => v !== null);
      return known.length ? ` (median ${Math.round(median(known))})` : '';
    };
    for (const s of result.sides) out(`${s.label}: start-up ${s.startMs.join(', ')} ms${med(s.startMs)}; run → marker ${s.readyMs.join(', ')} ms${med(s.readyMs)}; spawn → marker ${s.spawnMs.join(', ')} ms${med(s.spawnMs)}`);
    for (const line of phaseTable(Object.fromEntries(result.sides.map((s) => [s.label, s.median])))) out(line);
  }
  // One line for the record, whatever the mode.
  out(JSON.stringify({ bootStartup: result }));
}

/** The nested tier's writable share (its jest cache, mounted at the same path inside: scripts/nested/run.js). */
function nestedShareDir(nestedTier) {
  const { TIERS } = require('../nested/lib/tiers');
  const cache = process.env.KVMTS_NESTED_CACHE || path.join(os.homedir(), '.cache', 'kvmts', 'nested');
  return path.join(cache, `jest-${TIERS[nestedTier].tier}`);
}

async function main() {
  const o = parseCommandLine(process.argv.slice(2));
  const say = (line) => process.stderr.write(`${line}\n`);
  const spec = ARCHES[o.arch];
  if (canRunHere(spec)) return report(await runHere(o, say), o);
  const profDir = o.profile ? path.join(nestedShareDir(spec.nestedTier), 'boot-startup-prof', String(Date.now())) : undefined;
  if (profDir) fs.mkdirSync(profDir, { recursive: true });
  const inner = ['node', 'scripts/bench/boot-startup.js', '--arch', o.arch, '--cpus', String(o.cpus), '--runs', String(o.runs),
    ...(o.cli ? ['--cli', o.cli] : []), ...(o.before ? ['--before', o.before] : []), ...(o.readInputsSide ? ['--read-inputs-side'] : []), ...o.sideEnvs.flatMap((e) => ['--side-env', e]), ...(profDir ? ['--profile', '--prof-dir', profDir] : []), ...(o.json ? ['--json'] : [])].join(' ');
  const code = await runInNestedTier('boot-startup', o.arch, spec, inner, (o.runs + 1 + (o.profile ? 1 : 0)) * (1 + (o.before ? 1 : 0) + (o.readInputsSide ? 1 : 0) + o.sideEnvs.length), say);
  if (profDir) {
    // The profiles, copied out of the share into this checkout and summed here.
    const local = path.join(REPO, '.cache', 'boot-startup-prof', path.basename(profDir));
    fs.cpSync(profDir, local, { recursive: true });
    fs.rmSync(profDir, { recursive: true, force: true });
    for (const side of fs.readdirSync(local)) for (const line of [`profiles of ${side} (${path.join(local, side)}):`, ...profileLines(path.join(local, side))]) say(line);
  }
  if (code !== 0) throw new BenchError(`the nested ${spec.nestedTier} run ended with ${code}`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`boot-startup: ${e instanceof BenchError ? e.message : e.stack}\n`);
    process.exit(1);
  });
}

module.exports = { parseCommandLine, profileLines, rotated };
