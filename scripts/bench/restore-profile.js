#!/usr/bin/env node
'use strict';
/**
 * Where a warm restore's time goes: `machine.restore(dir, { verifyMemory: false })` of the
 * checkpoint benchmark's guest (incremental-tests.S, 64 MiB touched), into a machine made once
 * from checkpointConfig(dir), with every step of core's restore path wrapped in a timer — the
 * real code path, timed from outside (the wrappers replace the methods of core's own modules).
 *
 *   node scripts/bench/restore-profile.js [--memory-mib N] [--rounds N] [--no-settle]
 *
 * The checkpoint is left 2.5 s before the first restore, so its files are past the verified-file
 * cache's racy window (reused from the second round on, as a warm restore of an older checkpoint
 * reuses them); `--no-settle` starts at once and profiles the read-and-check path instead.
 * The vCPU thread's part is timed inside the thread too (restore-profile-hook.js, loaded there as a
 * plugin): the message's delivery, each step of restoreVcpuState down to each state group's push,
 * and the reply; `vCPU call 'simTicks'` is a call that does nothing in the thread — the floor of
 * one round trip to it.
 * `--cpu-profile` leaves the step timers out and samples the main thread with V8's profiler during
 * each machine.restore instead (50 µs interval): one more JSON line `{"cpuProfile": {...}}`, the
 * functions by self and inclusive time in ms per round (lib/cpuprofile.js).
 * Prints one line per round (`round r: total …; step ms …`) and, last, the medians as one JSON
 * line `{"profile": {...}}`. The first round is a warm-up (JIT, page cache), left out of the
 * medians. On a host without /dev/kvm run it in the nested x86 tier (KVMTS_NESTED_CMD).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createMachine, checkpointConfig } = require('@kvmts/core');
const { loadPrebuiltGuest } = require('@kvmts/arch-x86');

const CORE = path.dirname(require.resolve('@kvmts/core'));
const mod = (rel) => require(path.join(CORE, rel));
const files = mod('checkpoint/checkpoint-files.js');
const restoreMachine = mod('checkpoint/restore-machine.js');
const chain = mod('checkpoint/checkpoint-chain.js');
const controller = mod('machine/vcpu-controller.js');
const { BroadcastChannel } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const HOOK = path.join(__dirname, 'restore-profile-hook.js');
const { summarizeCpuProfile } = require('./lib/cpuprofile');
const now = () => performance.timeOrigin + performance.now();

const MIB = 1024 * 1024;
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const memoryMib = opt('--memory-mib', 256);
/** --cpu-profile: no step timers; V8's sampling profiler runs during each machine.restore of the main thread instead. */
const CPU_PROFILE = args.includes('--cpu-profile');
const rounds = opt('--rounds', 6);

/** Step → ns spent in it during the current round (nested steps count in their parent too). */
let spent = new Map();
const add = (step, ns) => spent.set(step, (spent.get(step) ?? 0) + ns);

function timed(owner, name, step = name) {
  if (CPU_PROFILE) return;
  const original = owner[name];
  owner[name] = function (...a) {
    const t0 = process.hrtime.bigint();
    const done = () => add(step, Number(process.hrtime.bigint() - t0));
    let out;
    try {
      out = original.apply(this, a);
    } catch (e) {
      done();
      throw e;
    }
    if (out && typeof out.then === 'function') return out.finally(done);
    done();
    return out;
  };
}

timed(files.CheckpointReader, 'open', 'CheckpointReader.open (manifest)');
timed(files.CheckpointReader.prototype, 'section', 'reader.section (read + check + parse)');
timed(chain, 'resolveChain', 'resolveChain');
for (const step of ['checkFits', 'remapMemory', 'loadMemory', 'restoreVmState', 'afterVcpuThreads', 'close']) timed(restoreMachine.MachineRestore.prototype, step, `MachineRestore.${step}`);
// The plan's construction (the sections, the config decoded, the chain, the image opened) and the shape check.
const Plan = restoreMachine.MachineRestore;
if (!CPU_PROFILE) restoreMachine.MachineRestore = class extends Plan {
  constructor(...a) {
    const t0 = process.hrtime.bigint();
    super(...a);
    add('new MachineRestore (plan)', Number(process.hrtime.bigint() - t0));
  }
};
try {
  timed(mod('checkpoint/restore-shape.js'), 'shapeMismatch', 'shapeMismatch');
} catch {
  // a tree from before restore-shape.js: the shape check is inside restore-into, not timed
}
const call = controller.VcpuController.prototype.call;
if (!CPU_PROFILE) controller.VcpuController.prototype.call = function (method, ...a) {
  const t0 = process.hrtime.bigint();
  // The probe in the vCPU thread (restore-profile-hook.js) times the delivery from here.
  if (method === 'restoreVcpuState') a[0] = { ...a[0], postedAt: now() };
  return call.call(this, method, ...a).finally(() => {
    add(`vCPU call '${method}'`, Number(process.hrtime.bigint() - t0));
    if (method === 'restoreVcpuState') repliedAt.set(this.id, now());
  });
};
/** When each vCPU's restoreVcpuState reply arrived, and what the probes reported (folded in per round). */
const repliedAt = new Map();
let reports = [];
/** The vCPU threads' steps of this round (their probe messages come on their own channel). */
async function foldThreadSteps() {
  for (let i = 0; i < 100 && reports.length < repliedAt.size; i++) await new Promise((r) => setTimeout(r, 10));
  for (const { vcpu, steps, left } of reports) {
    for (const [step, ms] of Object.entries(steps)) add(`  vCPU ${vcpu} thread: ${step}`, ms * 1e6);
    if (repliedAt.has(vcpu)) add(`  vCPU ${vcpu} thread: reply (clone + wake-up)`, (repliedAt.get(vcpu) - left) * 1e6);
  }
  reports = [];
  repliedAt.clear();
}
const probe = new BroadcastChannel('kvmts-restore-profile');
probe.onmessage = ({ data }) => reports.push(data);

function config() {
  const guest = loadPrebuiltGuest('incremental-tests');
  return {
    arch: 'x86_64',
    memory: memoryMib * MIB,
    archOptions: { irqchip: 'kernel' },
    boot: {
      kind: 'flat',
      mode: 'long',
      cpl: 0,
      image: guest.bytes,
      entry: guest.symbols.get('touch_pages'),
      registers: [{ rdi: BigInt(16 * MIB), rsi: BigInt((64 * MIB) / 4096), rcx: 1024n, rdx: 0x1000n, r8: 4096n }],
    },
  };
}

/** A session of this thread's inspector whose post() returns a promise. */
function profilerSession() {
  const session = new (require('node:inspector').Session)();
  session.connect();
  return { post: (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r)))) };
}

/** The rounds' summaries summed: total ms, and the top functions by self and by inclusive time, ms per round. */
function sumProfiles(summaries) {
  const n = summaries.length;
  const sum = (kind) => {
    const m = new Map();
    for (const s of summaries) for (const [k, ms] of s[kind]) m.set(k, (m.get(k) ?? 0) + ms / n);
    return [...m].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, ms]) => [k, Number(ms.toFixed(3))]);
  };
  return { msPerRound: Number((summaries.reduce((t, s) => t + s.totalMs, 0) / n).toFixed(3)), self: sum('self'), inclusive: sum('inclusive') };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-restore-profile-'));
  try {
    const m = await createMachine(config(), { console: () => undefined });
    await m.run({ maxExits: 1 });
    const dir = path.join(work, 'ckpt');
    await m.checkpoint(dir);
    await m.close();
    // Past the checked-checkpoint cache's racy window (checkpoint/verified-cache.ts): files written
    // less than 2 s before a read are read and checked every time. `--no-settle` profiles that path.
    if (!args.includes('--no-settle')) await new Promise((r) => setTimeout(r, 2500));
    // The probe module goes into every vCPU thread as a plugin (it registers nothing).
    const spareConfig = checkpointConfig(dir);
    const spare = await createMachine(CPU_PROFILE ? spareConfig : { ...spareConfig, plugins: [...(spareConfig.plugins ?? []), HOOK] }, { console: () => undefined });
    // The arch plugin's fingerprint and in-kernel components, wrapped on the spare's own plugin object.
    const support = spare.arch.checkpoint;
    timed(support, 'cpuFingerprint', 'arch cpuFingerprint');
    const vmComponents = support.vmComponents.bind(support);
    if (!CPU_PROFILE) support.vmComponents = (cfg) =>
      vmComponents(cfg).map((c) => {
        const w = Object.create(c);
        w.restore = (ctx, state) => {
          const t0 = process.hrtime.bigint();
          try {
            return c.restore(ctx, state);
          } finally {
            add(`component ${c.name}.restore`, Number(process.hrtime.bigint() - t0));
          }
        };
        return w;
      });
    const all = [];
    /** Per profiled round: the main thread's time in machine.restore, by function (lib/cpuprofile.js). */
    const sampled = [];
    const inspector = CPU_PROFILE ? profilerSession() : undefined;
    if (inspector) {
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 50 });
    }
    for (let r = 0; r < rounds; r++) {
      spent = new Map();
      if (CPU_PROFILE && r > 0) await inspector.post('Profiler.start');
      const t0 = process.hrtime.bigint();
      await spare.restore(dir, { verifyMemory: false });
      const t1 = process.hrtime.bigint();
      if (CPU_PROFILE && r > 0) sampled.push(summarizeCpuProfile((await inspector.post('Profiler.stop')).profile));
      await spare.run({ maxExits: 1 });
      const t2 = process.hrtime.bigint();
      add('machine.restore (total)', Number(t1 - t0));
      add('run to the first exit', Number(t2 - t1));
      // The floor of anything done on a vCPU thread: one call that does nothing there (a message each way).
      await spare.vcpus[0].call('simTicks');
      await foldThreadSteps();
      const row = Object.fromEntries([...spent].map(([k, v]) => [k, v / 1e6]));
      process.stdout.write(`round ${r}: ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join('; ')}\n`);
      if (r > 0) all.push(row);
    }
    await spare.close();
    probe.close();
    const keys = [...new Set(all.flatMap((row) => Object.keys(row)))];
    const profile = Object.fromEntries(keys.map((k) => [k, Number(median(all.map((row) => row[k] ?? 0)).toFixed(3))]));
    process.stdout.write(`${JSON.stringify({ profile, memoryMib, rounds: all.length })}\n`);
    if (inspector) process.stdout.write(`${JSON.stringify({ cpuProfile: sumProfiles(sampled), rounds: sampled.length })}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`restore-profile: ${e.stack ?? e}\n`);
  process.exit(1);
});
