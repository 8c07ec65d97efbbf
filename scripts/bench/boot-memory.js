#!/usr/bin/env node
'use strict';
/**
 * Where `kvmts boot`'s memory beyond guest RAM goes: the boot benchmark's guest (same kernel,
 * initramfs, 256M, `quiet`) booted a few times with `kvmts boot --json --memory-steps`, and the
 * process sampled at each step of the real code path (packages/cli/src/memory-steps.ts), against
 * a bare Node process. Not a timing: one boot takes its ordinary time, the figures are memory.
 *
 *   node scripts/bench/boot-memory.js [--arch arm64|x86_64] [--cpus N] [--runs N] [--before <kvmts bin.js>] [--young-gen] [--json]
 *
 * Sides, alternating after one untimed boot of each (code caches, page cache):
 *  - `kvmts`: this checkout's CLI as the boot benchmark runs it (its `hostMemory`);
 *  - `kvmts --memory-steps`: the same with its steps, the breakdown (sampling them costs
 *    memory itself: reading /proc/self/smaps, keeping the samples — so not the headline);
 *  - `kvmts, no start-up collection`: KVMTS_BOOT_COLLECT=0 (no collection in each thread before
 *    the guest runs: packages/cli/src/startup-collection.ts), to measure it alone;
 *  - with --young-gen, `kvmts, V8's young generation`: KVMTS_VCPU_YOUNG_GEN_MB=0 (the vCPU
 *    thread's V8 default instead of kvmts' 4 MiB cap), to measure that cap on its own;
 *  - `before` (with --before): another build of the CLI (e.g. the previous commit's, built in a
 *    copy of the repository), its `hostMemory` only.
 * Like the boot benchmark it runs itself inside the arch's nested tier where this host cannot
 * run the guest (`flock /tmp/kvmts-nested.lock node scripts/bench/boot-memory.js --arch arm64`).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { BenchError } = require('./lib/errors');
const { median } = require('./lib/stats');
const { timedBoot } = require('./lib/boot-run');
const { ARCHES, commands, guestInputs, kvmtsSummary } = require('./boot');
const { stepRows, formatRows } = require('./lib/memory-steps');
const { canRunHere, runInNestedTier } = require('./lib/boot-probe-host');


function parseCommandLine(argv) {
  const o = { arch: { arm64: 'arm64', x64: 'x86_64' }[process.arch], cpus: 1, runs: 2, before: undefined, youngGen: false, json: false };
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
    else if (a === '--young-gen') o.youngGen = true;
    else if (a === '--json') o.json = true;
    else throw new BenchError(`unknown option ${a} (known: --arch arm64|x86_64, --cpus N, --runs N, --before <kvmts bin.js>, --young-gen, --json)`);
  }
  if (!ARCHES[o.arch]) throw new BenchError(`--arch ${o.arch}: known are ${Object.keys(ARCHES).join(', ')}`);
  for (const k of ['cpus', 'runs']) if (!Number.isInteger(o[k]) || o[k] < 1) throw new BenchError(`--${k} expects a whole number ≥ 1`);
  if (o.before !== undefined && !fs.existsSync(o.before)) throw new BenchError(`--before ${o.before}: no such file`);
  return o;
}

/** VmRSS (KiB) of a bare `node -e`, and of one with an idle worker thread (what any thread's isolate costs). */
function bareNode() {
  const rss = "/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1]";
  const plain = Number(execFileSync(process.execPath, ['-e', `process.stdout.write(${rss})`], { encoding: 'utf8' }));
  const withWorker = Number(execFileSync(process.execPath, ['-e',
    `const { Worker } = require('worker_threads'); const w = new Worker('require("worker_threads").parentPort.postMessage(0)', { eval: true });
     w.once('message', () => setTimeout(() => { process.stdout.write(${rss}); process.exit(0); }, 200));`], { encoding: 'utf8' }));
  return { plain, withWorker };
}

async function runHere(o, say) {
  const spec = ARCHES[o.arch];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-memory-'));
  try {
    const inputs = guestInputs(spec, dir);
    const cmd = commands(spec, inputs, o.cpus);
    const bare = bareNode();
    say(`bare node: ${(bare.plain / 1024).toFixed(1)} MiB; with one idle worker thread: ${(bare.withWorker / 1024).toFixed(1)} MiB`);
    const sides = [
      // The benchmark's own figure: sampling the steps costs memory itself (reading smaps, keeping samples).
      { label: 'kvmts', args: cmd.kvmts.args, env: process.env },
      { label: 'kvmts --memory-steps', args: [...cmd.kvmts.args, '--memory-steps'], env: process.env },
      { label: 'kvmts, no start-up collection', args: cmd.kvmts.args, env: { ...process.env, KVMTS_BOOT_COLLECT: '0' } },
      ...(o.youngGen ? [{ label: "kvmts, V8's young generation", args: cmd.kvmts.args, env: { ...process.env, KVMTS_VCPU_YOUNG_GEN_MB: '0' } }] : []),
      ...(o.before ? [{ label: 'before', args: [o.before, ...cmd.kvmts.args.slice(1)], env: process.env }] : []),
    ].map((s) => ({ ...s, vmm: [], last: undefined }));
    for (let i = -1; i < o.runs; i++) {
      for (const side of sides) {
        const r = await timedBoot({ label: side.label, bin: process.execPath, args: side.args, env: side.env, marker: cmd.kvmts.marker });
        const summary = kvmtsSummary(r.stdout, cmd.append);
        if (!summary.hostMemory) throw new BenchError(`${side.label}: kvmts boot --json reported no hostMemory`);
        say(`${i < 0 ? 'warm-up' : `run ${i + 1}/${o.runs}`}: ${side.label.padEnd(30)} ${(summary.hostMemory.vmmRssKiB / 1024).toFixed(1)} MiB beyond guest RAM (${(r.ns / 1e9).toFixed(1)} s)`);
        if (i < 0) continue;
        side.vmm.push(summary.hostMemory.vmmRssKiB);
        side.last = summary;
      }
    }
    return { arch: o.arch, cpus: o.cpus, bareNodeKiB: bare.plain, bareNodeWithWorkerKiB: bare.withWorker,
      sides: sides.map((s) => ({ label: s.label, vmmKiB: s.vmm, medianVmmKiB: median(s.vmm), overBareNodeKiB: median(s.vmm) - bare.plain, ...(s.last.memorySteps ? { steps: s.last.memorySteps } : {}) })) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(result, o) {
  const out = (line) => process.stdout.write(`${line}\n`);
  if (o.json) return out(JSON.stringify({ bootMemory: result }));
  const mib = (kib) => (kib / 1024).toFixed(1);
  out(`boot-memory: ${result.arch}, ${result.cpus} vCPU(s); bare node ${mib(result.bareNodeKiB)} MiB (with an idle worker thread ${mib(result.bareNodeWithWorkerKiB)} MiB)`);
  for (const s of result.sides) {
    out(`${s.label}: beyond guest RAM ${s.vmmKiB.map(mib).join(', ')} MiB → median ${mib(s.medianVmmKiB)}, ${mib(s.overBareNodeKiB)} MiB over bare node`);
    if (s.steps) for (const line of formatRows(stepRows(s.steps, result.bareNodeKiB))) out(`  ${line}`);
  }
  // One line for the record, whatever the mode.
  out(JSON.stringify({ bootMemory: result }));
}

async function main() {
  const o = parseCommandLine(process.argv.slice(2));
  const say = (line) => process.stderr.write(`${line}\n`);
  const spec = ARCHES[o.arch];
  if (canRunHere(spec)) return report(await runHere(o, say), o);
  // As the boot benchmark does: the same command inside the arch's emulated host.
  const inner = ['node', 'scripts/bench/boot-memory.js', '--arch', o.arch, '--cpus', String(o.cpus), '--runs', String(o.runs),
    ...(o.before ? ['--before', o.before] : []), ...(o.youngGen ? ['--young-gen'] : []), ...(o.json ? ['--json'] : [])].join(' ');
  const code = await runInNestedTier('boot-memory', o.arch, spec, inner, (o.runs + 1) * (3 + (o.before ? 1 : 0) + (o.youngGen ? 1 : 0)), say);
  if (code !== 0) throw new BenchError(`the nested ${spec.nestedTier} run ended with ${code}`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`boot-memory: ${e instanceof BenchError ? e.message : e.stack}\n`);
    process.exit(1);
  });
}

module.exports = { parseCommandLine };
