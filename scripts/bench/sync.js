'use strict';
/**
 * `sync`: the cost of moving x86 vCPU state between KVM and an X86ThreadContext, kvmts against
 * a C program issuing the same ioctls (baseline-sync.c) in the same run. Scenarios:
 *
 *   full-sync       every state group pulled and pushed back, as BaseKvmCPU does around a
 *                   checkpoint or a switch: invalidateThreadContext() (KVM ran), then
 *                   updateThreadContext() (pull all ten groups), markThreadContextDirty(),
 *                   updateKvmState() via syncToKvm() (push all ten). In-kernel irqchip, so the
 *                   LAPIC is among them. No KVM_RUN. ns/op = one round trip (20 ioctls, in two
 *                   batches: one N-API crossing each way).
 *   full-sync-unbatched  the same with one crossing per ioctl (archOptions.batchStateSync false,
 *                   the default), against the same C program: the batching's effect, in the same run.
 *   rip-after-exit  the lazy case: an exit handler reads RIP on every exit (cpu.readRip(), the
 *                   one-register read exit handlers use). kvmts takes it from kvm_run
 *                   (KVM_CAP_SYNC_REGS, no ioctl, no copy); the C program issues KVM_GET_REGS, as
 *                   the issue defines the target. ns/op = one exit + the read.
 *   rip-after-exit-vs-c-sync-regs  kvmts as above against a C program that uses the cap too
 *                   (kvm_run->s.regs): like for like.
 *   rip-after-exit-getregs  the same read through the object API, getRegs().rip (all 18
 *                   registers decoded into the context), against the cap-using C program.
 *   rip-after-exit-ioctl  kvmts with archOptions.syncRegs [] (one KVM_GET_REGS per read, kvmts
 *                   before the cap) against the KVM_GET_REGS C program.
 *
 * Rounds alternate C and kvmts on fresh VMs (median reported), like `exits`. `--iterations` is
 * the number of exits of rip-after-exit; full-sync does a twentieth as many round trips, about
 * as many ioctls.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KvmExitReason, KvmRunLayout } = require('@kvmts/core');
const { assembleGuest, X86_LAYOUT, X86RegsLayout, X86StateSync } = require('@kvmts/arch-x86');
const { makeRig, dumpInitialState } = require('./lib/x86-rig');
const { buildBaseline, runJson } = require('./lib/baseline');
const { median } = require('./lib/stats');
const { BenchError } = require('./lib/errors');

const GUEST_SOURCE = path.join(__dirname, 'guests', 'exit-loop.S');
const BASELINE_SOURCE = path.join(__dirname, 'baseline-sync.c');
const BENCH_PORT = 0x10;
const IDENTITY_MAP_BYTES = 1 << 30;
/** kvmts/C time ratio the issue sets for state sync. */
const TARGET_RATIO = 1.2;
/** Ioctls in one full round trip, so full-sync does about as many ioctls as rip-after-exit exits. */
const IOCTLS_PER_ROUND_TRIP = 20;

class CountingDevice {
  constructor() {
    this.name = 'bench-port';
    this.writes = 0;
  }
  read() {
    return 0;
  }
  write() {
    this.writes++;
  }
}

function bootFor(guest, loopExits, cpl) {
  return { kind: 'flat', mode: 'long', cpl, image: guest.bytes, loadAddress: guest.loadAddress, entry: guest.symbols.get('pio_loop'), mapBytes: IDENTITY_MAP_BYTES, registers: { rcx: loopExits } };
}

/** Timed with process.hrtime around the loop only; CPU time from process.cpuUsage. */
function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const t1 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);
  return { ns: Number(t1 - t0), user_ns: c1.user * 1000, sys_ns: c1.system * 1000 };
}

/** A full round trip of every group; `batched` picks archOptions.batchStateSync (one crossing each way, or one per ioctl). */
function fullSyncScenario(name, batched) {
  return {
    name,
    archOptions: { irqchip: 'kernel', batchStateSync: batched },
    ops: (o) => Math.max(1, Math.floor(o.iterations / IOCTLS_PER_ROUND_TRIP)),
    // Warm up with as many round trips as the other scenario warms up with exits: V8 has to
    // reach its optimising tier first (slow to come under the nested tier's TCG).
    warmupOps: (o) => Math.max(1, o.warmup),
    baselineArgs: (o) => ['full', String(Math.max(1, Math.floor(o.iterations / IOCTLS_PER_ROUND_TRIP)))],
    kvmts(boot, o) {
      const rig = makeRig(boot, this.archOptions);
      try {
        const cpu = rig.cpu;
        // The template methods BaseKvmCPU calls (protected in TypeScript, reachable from here).
        const roundTrip = () => {
          cpu.invalidateThreadContext();
          cpu.updateThreadContext();
          cpu.markThreadContextDirty();
          cpu.syncToKvm();
        };
        for (let i = 0; i < this.warmupOps(o); i++) roundTrip();
        const n = this.ops(o);
        const t = timed(() => {
          for (let i = 0; i < n; i++) roundTrip();
        });
        return { ...t, ops: n };
      } finally {
        rig.close();
      }
    },
  };
}

/** How a rip scenario's exit handler reads RIP: the one-register read, or the context's objects. */
const READ_RIP = {
  readRip: (cpu) => cpu.readRip(),
  getRegs: (cpu) => cpu.getRegs().rip,
};

/**
 * Read RIP in every IO exit (`read`: a READ_RIP key); `archOptions.syncRegs` picks kvmts' path,
 * `baselineMode` the C program's.
 */
function ripScenario(name, archOptions, baselineMode, expectSyncRegs, read = 'readRip') {
  return {
    name,
    archOptions,
    read,
    baselineArgs: (o) => [baselineMode, String(o.warmup)],
    kvmts(boot, o) {
      const rig = makeRig(boot, this.archOptions);
      try {
        const cpu = rig.cpu;
        if (cpu.syncRegsGroups.includes('regs') !== expectSyncRegs) throw new BenchError(`${name}: the vCPU carries [${cpu.syncRegsGroups}] in kvm_run, expected ${expectSyncRegs ? 'regs' : 'nothing'}`);
        const dev = new CountingDevice();
        cpu.pio.attach({ base: BENCH_PORT, size: 1 }, dev);
        const serve = cpu.getExitHandler(KvmExitReason.IO);
        const readRip = READ_RIP[this.read];
        let rip = 0n;
        cpu.setExitHandler(KvmExitReason.IO, (c) => {
          rip = readRip(c);
          return serve(c);
        });
        if (o.warmup > 0) expectStop(cpu.runLoop(o.warmup), 'exit-limit', 'warm-up');
        let stop;
        const t = timed(() => {
          stop = cpu.runLoop();
        });
        expectStop(stop, 'poweroff', 'timed run');
        if (rip === 0n) throw new BenchError(`${name}: no RIP was read`);
        if (dev.writes !== o.warmup + o.iterations) throw new BenchError(`${name}: the device saw ${dev.writes} writes, expected ${o.warmup + o.iterations}`);
        return { ...t, ops: o.iterations + 1 };
      } finally {
        rig.close();
      }
    },
  };
}

const SCENARIOS = [
  fullSyncScenario('full-sync', true),
  fullSyncScenario('full-sync-unbatched', false),
  ripScenario('rip-after-exit', undefined, 'rip', true),
  ripScenario('rip-after-exit-vs-c-sync-regs', undefined, 'rip-sync', true),
  ripScenario('rip-after-exit-getregs', undefined, 'rip-sync', true, 'getRegs'),
  ripScenario('rip-after-exit-ioctl', { syncRegs: [] }, 'rip', false),
];

/**
 * Diagnostic (human output): kvmts' own work per operation, with every ioctl replaced by a stub
 * that returns at once — what kvmts adds to the ioctls on any host, N-API crossings aside.
 */
function jsOnlyNsPerOp(scenario, msrCount) {
  const read = SCENARIOS.find((s) => s.name === scenario)?.read;
  const caps = { sregs2: true, xsaveBytes: 4096, xsave2: true, xcrs: true, debugRegs: true, vcpuEvents: true, syncRegs: 7 };
  const stub = (_request, op, arg) => (op === 'KVM_GET_MSRS' || op === 'KVM_SET_MSRS' ? arg.getUint32(0, true) : 0);
  // A batch "runs" at once: every ioctl answers what it is expected to (the MSR count) or 0.
  const batch = {
    run: (b) => {
      for (let i = 0; i < b.count; i++) b.results[i] = Math.max(0, b.expects[i]);
      return b.count;
    },
    error: () => new BenchError('stub batch failed'),
  };
  const run = new DataView(new ArrayBuffer(KvmRunLayout.size));
  const io = scenario === 'full-sync-unbatched' || scenario === 'rip-after-exit-ioctl' ? {} : { batch, run };
  const sync = new X86StateSync(stub, caps, 'vCPU 0', io);
  sync.configure({ lapic: true, msrList: Array.from({ length: msrCount }, (_, i) => (i === 0 ? 0x10 : 0x100 + i)) });
  sync.useSyncRegs(['regs']);
  // What KVM's store_regs leaves after an exit: RFLAGS bit 1 set in kvm_run.s.regs.
  const rflags = KvmRunLayout.sync_regs + X86RegsLayout.fields.rflags.offset;
  const op = scenario.startsWith('full-sync')
    ? () => {
        sync.invalidate();
        sync.pullAll();
        sync.markAllDirty();
        sync.pushDirty();
      }
    : read === 'getRegs'
      ? () => {
          run.setUint8(rflags, 2);
          sync.invalidate();
          return sync.tc.regs.rip;
        }
      : () => {
          run.setUint8(rflags, 2);
          sync.invalidate();
          return sync.readRegister('rip');
        };
  const n = 200000;
  for (let i = 0; i < n / 4; i++) op();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op();
  return Number(process.hrtime.bigint() - t0) / n;
}

function expectStop(got, want, phase) {
  if (got.reason !== want) throw new BenchError(`${phase}: the run loop stopped with '${got.reason}', expected '${want}'`);
}

/**
 * @param {{ iterations: number, rounds: number, warmup: number, cpl: 0 | 3 }} options
 * @param {(line: string) => void} progress
 */
function runSync(options, progress = () => {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-bench-sync-'));
  try {
    const guest = assembleGuest(GUEST_SOURCE, { cacheDir: null });
    const exe = buildBaseline(work, BASELINE_SOURCE, 'KVMTS_BENCH_SYNC_BASELINE');
    const boot = bootFor(guest, options.warmup + options.iterations, options.cpl);
    const results = [];
    for (const scenario of SCENARIOS) {
      const dir = path.join(work, scenario.name);
      dumpInitialState(boot, dir, scenario.archOptions);
      const kvmtsNs = [];
      const baselineNs = [];
      const kvmtsUserNs = [];
      const baselineUserNs = [];
      for (let round = 0; round < options.rounds; round++) {
        const c = runJson(exe, [dir, `0x${X86_LAYOUT.tssAddress.toString(16)}`, ...scenario.baselineArgs(options)]);
        const k = scenario.kvmts(boot, options);
        if (c.ops !== k.ops) throw new BenchError(`${scenario.name}: the baseline timed ${c.ops} operations, kvmts ${k.ops}`);
        baselineNs.push(c.ns / c.ops);
        baselineUserNs.push(c.user_ns / c.ops);
        kvmtsNs.push(k.ns / k.ops);
        kvmtsUserNs.push(k.user_ns / k.ops);
        progress(`  ${scenario.name} round ${round + 1}/${options.rounds}: C ${baselineNs[round].toFixed(0)} ns/op, kvmts ${kvmtsNs[round].toFixed(0)} ns/op (${k.ops} ops)`);
      }
      const msrCount = fs.readFileSync(path.join(dir, 'msrs.bin')).readUInt32LE(0);
      progress(`  ${scenario.name}: kvmts' own work with stubbed ioctls ${jsOnlyNsPerOp(scenario.name, msrCount).toFixed(0)} ns/op`);
      const k = median(kvmtsNs);
      const c = median(baselineNs);
      results.push({
        scenario: scenario.name,
        kvmts_ns_per_op: k,
        baseline_ns_per_op: c,
        ratio: k / c,
        target: TARGET_RATIO,
        kvmts_user_ns_per_op: median(kvmtsUserNs),
        baseline_user_ns_per_op: median(baselineUserNs),
        rounds: { kvmtsNs, baselineNs },
      });
    }
    return results;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { runSync, jsOnlyNsPerOp, TARGET_RATIO, description: 'vCPU state sync, kvmts vs C: a full round trip of every group, and reading RIP after an exit' };

/**
 * `node scripts/bench/sync.js --stubbed [--msrs N] [--repeat N]`: only the stubbed-ioctl
 * diagnostic, for every scenario, on any host (no /dev/kvm needed): the median and the best of
 * --repeat (7) runs of jsOnlyNsPerOp, with N (40) MSRs in the msrs group.
 */
if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (flag, fallback) => {
    const at = args.indexOf(flag);
    return at < 0 ? fallback : Number(args[at + 1]);
  };
  if (!args.includes('--stubbed')) {
    process.stderr.write('usage: node scripts/bench/sync.js --stubbed [--msrs N] [--repeat N]   (the full benchmark: npm run bench -- sync)\n');
    process.exitCode = 2;
  } else {
    const msrs = value('--msrs', 40);
    const repeat = value('--repeat', 7);
    process.stdout.write(`sync, kvmts' own work with stubbed ioctls (${msrs} MSRs; median / best of ${repeat}, ns/op):\n`);
    for (const { name } of SCENARIOS) {
      const runs = Array.from({ length: repeat }, () => jsOnlyNsPerOp(name, msrs)).sort((a, b) => a - b);
      process.stdout.write(`  ${name.padEnd(30)} ${median(runs).toFixed(0).padStart(6)} / ${runs[0].toFixed(0).padStart(6)}\n`);
    }
  }
}
