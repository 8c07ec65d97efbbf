'use strict';
/**
 * `checkpoint`: saving and restoring whole machines. The guest is
 * packages/arch-x86/guests/incremental-tests.S: its first pass writes one qword into each of
 * TOUCHED_MIB of pages (so they are non-zero: the guest touches them, not the host), later passes
 * rewrite the first INCREMENT_MIB of them; it stops at `out 0x10` after each pass and its next
 * instruction is `out 0x12` — the exit a restore is timed to.
 *
 * Scenarios (medians of --rounds):
 *   save              machine.checkpoint(dir) of a stopped `--memory-mib` guest (full image)
 *                     against `cp` of that checkpoint's memory.img (same bytes, same holes)
 *                     followed by fsync of the copy (kvmts fsyncs what it writes; cp's source is read
 *                     into the page cache first, untimed: kvmts writes it with O_DIRECT). Caches are not
 *                     dropped, on either side: both read from memory (the guest's RAM, the page
 *                     cache).
 *   save-incremental  checkpoint(dir, { parent }) after the guest rewrote INCREMENT_MIB, against
 *                     `cp` + fsync of that incremental memory.img (one size of the sweep below).
 *                     Extra fields: `empty_link_ns`, the
 *                     cost of a link that stores no page (no guest run since its parent), and
 *                     `marginal_share`, (link − empty link) / (full save − empty link), to compare
 *                     with `data_share`, the link's share of the full save's data (equal when the
 *                     cost beyond the fixed part is proportional to the pages), and with `cp_share`,
 *                     cp's time for the link's image over its time for the full one (what the
 *                     disk makes of the same two sizes: small writes cost more per byte).
 *   save-incremental-per-page  links of SWEEP_PAGES rewritten pages (0 to all 64 MiB, the sizes
 *                     taking turns in every round), each against cp + fsync of its image; the
 *                     per-size medians fitted with a line by relative error, time = fixed +
 *                     per-page × stored pages, for both. kvmts_ns_per_op and baseline_ns_per_op
 *                     are the lines' per-page costs (`op`: a stored page); extra fields
 *                     `fixed_ns`, `baseline_fixed_ns`, `worst_fit_error` and
 *                     `baseline_worst_fit_error` (the size furthest off each line, as a share of
 *                     its time), `worst_size_ratio` (the largest kvmts / cp of any one size) and
 *                     the `points`.
 *
 * The benchmark keeps every checkpoint and copy of a scenario until its rounds are done (a
 * removal's disk work would land in the next timed step): ~1.5 GiB in the temporary directory.
 *   restore           warm, into a machine whose vCPU threads are up (made once from
 *                     checkpointConfig(dir)): machine.restore(dir, { verifyMemory: false }) → run()
 *                     → the first guest exit (`out 0x12`), against baseline-restore.c: the same
 *                     checkpoint restored into a C VMM's VM whose vCPU is up, with the ioctls and
 *                     bytes one kvmts restore issued (recorded from the real code path:
 *                     lib/restore-recorder.js), rounds alternating with kvmts'. The 5 ms target is
 *                     an extra field (target_ns, ratio_to_target). The breakdown also times the
 *                     verified restore and restoreMachine into a new machine.
 *   restore-main-thread  the same, into a one-vCPU machine whose vCPU runs on this thread
 *                     (createMachine's vcpuThread 'main'): no vCPU thread to wake and hear back
 *                     from for the state, the run and its stop; same C baseline, same rounds.
 *   restore-cold      spawn `node checkpoint-cold-child.js dir` → its first guest exit, broken
 *                     down by marks the child takes on CLOCK_MONOTONIC (shared by processes):
 *                     node start, module load, restoreMachine, run to the first exit.
 *   restore-cold-main-thread  the same with the restored vCPU on the child's main thread (no
 *                     worker thread to start).
 *
 * `--only restore` makes one checkpoint (untimed) and runs the restore scenarios alone;
 * `--only save` runs the save scenarios alone.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFileSync } = require('node:child_process');
const { createMachine, restoreMachine, checkpointConfig } = require('@kvmts/core');
const { loadPrebuiltGuest, encodeRegs, X86RegsLayout, X86_LAYOUT } = require('@kvmts/arch-x86');
const { median, linearFit, worstRelativeError } = require('./lib/stats');
const { BenchError } = require('./lib/errors');
const { buildBaseline, runJson } = require('./lib/baseline');
const { recordRestore, serializeRecords, withRecorderHook, ioctlNames } = require('./lib/restore-recorder');

const description = 'machine checkpoints: save vs cp, incremental save, warm and cold restore to the first guest instruction';
const MIB = 1024 * 1024;
const PAGE = 4096;
const TOUCHED_MIB = 64;
const INCREMENT_MIB = 4;
const FIRST_PAGE = 16 * MIB;
/** The guest's pass sizes (pages) of the save-incremental sweep, up to all it touched; 0 is an empty link. */
const SWEEP_PAGES = [0, 64, 256, 1024, 4096, (TOUCHED_MIB * MIB) / PAGE];
/** The sweep's size the save-incremental line reports: INCREMENT_MIB. */
const REPORTED_PAGES = (INCREMENT_MIB * MIB) / PAGE;
const RESTORE_TARGET_NS = 5e6;
const SAVE_TARGET_RATIO = 1 / 0.8;
const COLD_CHILD = path.join(__dirname, 'checkpoint-cold-child.js');
const RESTORE_BASELINE = path.join(__dirname, 'baseline-restore.c');
/** The port of the restored guest's first exit: incremental-tests.S's `out MARK_PORT, al` after its stop. */
const MARK_PORT = 0x12;

function config(memoryBytes) {
  const guest = loadPrebuiltGuest('incremental-tests');
  return {
    arch: 'x86_64',
    memory: memoryBytes,
    archOptions: { irqchip: 'kernel' },
    boot: {
      kind: 'flat',
      mode: 'long',
      cpl: 0,
      image: guest.bytes,
      entry: guest.symbols.get('touch_pages'),
      registers: [{ rdi: BigInt(FIRST_PAGE), rsi: BigInt((TOUCHED_MIB * MIB) / PAGE), rcx: BigInt((INCREMENT_MIB * MIB) / PAGE), rdx: 0x1000n, r8: BigInt(PAGE) }],
    },
  };
}

const now = () => process.hrtime.bigint();
const round = (x, digits) => (x === null ? null : Number(x.toFixed(digits)));
const elapsed = (t0) => Number(now() - t0);

/**
 * `cp src dst`, then fsync(dst) as kvmts fsyncs its files, timed (ns). dst is kept: copies and
 * checkpoints are removed together after a scenario's rounds (removeAll), because a removal's
 * work on the disk lands in the next journal commit — a save timed right after cp's 64 MiB copy
 * was removed paid for it (an empty link 9-21 ms instead of 5-6).
 */
function cpAndSync(src, dst) {
  // cp reads its source from the page cache, as kvmts reads guest RAM from memory: kvmts writes
  // the image with O_DIRECT (core's memory-image.ts), which leaves it out of the cache, so it is
  // read once first (untimed).
  warmPageCache(src);
  const t0 = now();
  execFileSync('cp', [src, dst]);
  const fd = fs.openSync(dst, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return elapsed(t0);
}

/** Remove files and directories, then commit the removals (fsync of their directories), untimed. */
function removeAll(paths) {
  for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  for (const dir of new Set(paths.map((p) => path.dirname(p)))) {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
}

/** Reads `file`'s data extents (holes skipped) so that its pages are in the page cache. */
function warmPageCache(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 * MIB);
    const size = fs.fstatSync(fd).size;
    for (let at = 0; at < size; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
      if (n === 0) break;
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Which cp this is (GNU coreutils skips holes; a busybox cp may not). */
function cpVersion() {
  try {
    return execFileSync('cp', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch {
    return 'cp without --version (busybox?)';
  }
}

async function expectExits(machine, exits, what) {
  const r = await machine.run({ maxExits: exits });
  if (r.reason !== 'exit-limit') throw new BenchError(`${what}: the guest ended with ${JSON.stringify(r)}, expected ${exits} exits`);
}

/**
 * The pages an incremental link holds besides the `rewritten` ones of the guest's pass, as guest-physical
 * addresses (the machine has one region at 0, so image page n is GPA n * 4 KiB).
 */
function extraPages(dir, memoryBytes, rewritten) {
  const map = fs.readFileSync(path.join(dir, 'pages.bin'));
  const guest = (p) => p >= FIRST_PAGE / PAGE && p < FIRST_PAGE / PAGE + rewritten;
  const out = [];
  for (let p = 0; p < memoryBytes / PAGE; p++) if (map[p >>> 3] & (1 << (p & 7)) && !guest(p)) out.push(`0x${(p * PAGE).toString(16)}`);
  return out.join(' ') || 'none';
}

/** Bytes a file really holds on disk (allocated blocks). */
const allocated = (file) => fs.statSync(file).blocks * 512;

/**
 * The C baseline's input for the checkpoint at `full` (baseline-restore.c's header): one kvmts warm
 * restore recorded, in a machine of its own (made from checkpointConfig, with the recorder's
 * vCPU-thread hook; restored into once before, so what a warm restore memoises is), and the
 * registers kvmts' vCPU holds at the restored guest's first exit. Returns the C program's arguments
 * after the executable, and how many ioctls a kvmts restore issues.
 */
async function prepareRestoreBaseline(full, work) {
  const recorder = await createMachine(withRecorderHook(checkpointConfig(full)), { console: () => undefined });
  try {
    await recorder.restore(full, { verifyMemory: false });
    await expectExits(recorder, 1, 'restored guest (recorder warm-up)');
    const { records, remaps, exit } = await recordRestore(recorder, full, { verifyMemory: false });
    if (exit.reason !== 'exit-limit') throw new BenchError(`restore baseline: the recorded restore's guest ended with ${JSON.stringify(exit)}, expected one exit`);
    const regions = recorder.vm.regions;
    if (remaps.length !== regions.length) throw new BenchError(`restore baseline: kvmts remapped ${remaps.length} regions, the machine has ${regions.length}`);
    const regionArg = remaps.map((m, i) => `0x${regions[i].guestPhysAddr.toString(16)}:0x${m.size.toString(16)}:0x${m.offset.toString(16)}`).join(',');
    const context = await recorder.vcpus[0].call('threadContext');
    const regs = new DataView(new ArrayBuffer(X86RegsLayout.size));
    encodeRegs(context.regs, regs);
    const stateFile = path.join(work, 'restore-ioctls.bin');
    const regsFile = path.join(work, 'restore-regs.bin');
    fs.writeFileSync(stateFile, serializeRecords(records));
    fs.writeFileSync(regsFile, new Uint8Array(regs.buffer));
    const imageFile = path.join(full, 'memory.img');
    return { args: [stateFile, imageFile, regionArg, `0x${X86_LAYOUT.tssAddress.toString(16)}`, `0x${MARK_PORT.toString(16)}`, regsFile], ioctls: records.length, names: ioctlNames(records) };
  } finally {
    await recorder.close();
  }
}

/**
 * restore (warm), as Firecracker measures it: into a process whose vCPU threads are up — a
 * machine made once from the checkpoint's config (untimed), restored into again and again with
 * Machine.restore — against baseline-restore.c doing the same restore's ioctls in its own VM, one
 * C process per round (set-up and one warm-up restore untimed, then one timed), alternating with
 * kvmts' rounds. The first kvmts round warms the JIT and the page cache (untimed).
 */
async function restoreScenario(full, options, log, baseline, vcpuThread) {
  const { exe } = baseline;
  const warm = { total: [], restore: [], run: [], verified: [], fresh: [], c: [] };
  const scenario = vcpuThread === 'main' ? 'restore-main-thread' : 'restore';
  const spare = await createMachine(checkpointConfig(full), { console: () => undefined, vcpuThread });
  try {
    for (let r = 0; r <= options.rounds; r++) {
      const c = runJson(exe, [...baseline.args, '1', '1']);
      if (c.ioctls !== baseline.ioctls) throw new BenchError(`restore baseline: the C program issued ${c.ioctls} ioctls per restore, kvmts ${baseline.ioctls}`);
      const t0 = now();
      await spare.restore(full, { verifyMemory: false });
      const t1 = now();
      await expectExits(spare, 1, 'restored guest');
      const t2 = now();
      const t3 = now();
      await spare.restore(full);
      const verified = elapsed(t3);
      // restoreMachine: a new machine (VM, memory, vCPU worker threads) from the checkpoint.
      const t4 = now();
      const fresh = await restoreMachine(full, { verifyMemory: false, console: () => undefined, vcpuThread });
      const freshNs = elapsed(t4);
      await fresh.close();
      if (r === 0) continue;
      warm.total.push(Number(t2 - t0));
      warm.restore.push(Number(t1 - t0));
      warm.run.push(Number(t2 - t1));
      warm.verified.push(verified);
      warm.fresh.push(freshNs);
      warm.c.push(c.ns[0]);
      log(`  ${scenario} round ${r}: ${(Number(t2 - t0) / 1e6).toFixed(2)} ms (machine.restore ${(Number(t1 - t0) / 1e6).toFixed(2)}, run to first exit ${(Number(t2 - t1) / 1e6).toFixed(2)}), C ${(c.ns[0] / 1e6).toFixed(3)} ms; with verifyMemory ${(verified / 1e6).toFixed(1)} ms; restoreMachine into a new machine ${(freshNs / 1e6).toFixed(1)} ms`);
    }
  } finally {
    await spare.close();
  }
  const warmNs = median(warm.total);
  const cNs = median(warm.c);
  return {
    scenario,
    kvmts_ns_per_op: warmNs,
    baseline_ns_per_op: cNs,
    ratio: warmNs / cNs,
    target: null,
    extra: { target_ns: RESTORE_TARGET_NS, ratio_to_target: round(warmNs / RESTORE_TARGET_NS, 4), rounds_ns: { kvmts: warm.total, c: warm.c } },
    note: `machine.restore (verifyMemory false) ${(median(warm.restore) / 1e6).toFixed(2)} ms + run to first exit ${(median(warm.run) / 1e6).toFixed(2)} ms; C (baseline-restore.c: read the state, map the image, the same ${baseline.ioctls} ioctls (${baseline.names.join(' ')}), KVM_RUN and its completion; registers checked) ${(cNs / 1e6).toFixed(3)} ms; target 5 ms: ${(warmNs / RESTORE_TARGET_NS).toFixed(2)}×; machine.restore with verifyMemory (default) ${(median(warm.verified) / 1e6).toFixed(1)} ms; restoreMachine into a new machine (VM, memory, ${vcpuThread === 'main' ? 'its vCPU on this thread' : 'vCPU threads'}) ${(median(warm.fresh) / 1e6).toFixed(1)} ms`,
  };
}

async function runCheckpoint(options, progress) {
  const memoryBytes = options.memoryMib * MIB;
  if (memoryBytes < FIRST_PAGE + TOUCHED_MIB * MIB) throw new BenchError(`--memory-mib ${options.memoryMib} is too small: the guest touches ${TOUCHED_MIB} MiB from ${FIRST_PAGE / MIB} MiB`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-bench-ckpt-'));
  // Every round is logged as it ends (stderr with --json, stdout otherwise): long saves show progress.
  const log = progress;
  const results = [];
  try {
    const cp = cpVersion();
    log(`checkpoint: ${options.memoryMib} MiB guest, ${TOUCHED_MIB} MiB touched by the guest, incremental links of ${SWEEP_PAGES.join(', ')} rewritten pages, ${options.rounds} rounds, tmp ${work}, ${cp}`);
    const machine = await createMachine(config(memoryBytes), { console: () => undefined });
    try {
      await expectExits(machine, 1, 'first pass');
      if (options.only === 'restore') await machine.checkpoint(path.join(work, 'full-0'));
      else await saveScenarios(machine, work, options, log, results, memoryBytes, cp);
    } finally {
      await machine.close();
    }
    if (options.only === 'save') return results;
    const full = path.join(work, 'full-0');
    const baseline = { exe: buildBaseline(work, RESTORE_BASELINE, 'KVMTS_BENCH_RESTORE_BASELINE'), ...(await prepareRestoreBaseline(full, work)) };
    for (const vcpuThread of ['worker', 'main']) results.push(await restoreScenario(full, options, log, baseline, vcpuThread));
    if (options.only !== 'restore') for (const vcpuThread of ['worker', 'main']) results.push(coldScenario(full, options, log, vcpuThread));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return results;
}

/** save and save-incremental, on the stopped machine after its first pass; leaves `work`/full-0. */
async function saveScenarios(machine, work, options, log, results, memoryBytes, cp) {
  // save: full checkpoints of the same stopped machine, against cp of the image.
  const save = { kvmts: [], cp: [] };
  const made = [];
  let image = 0;
  for (let r = 0; r < options.rounds; r++) {
    const dir = path.join(work, `full-${r}`);
    const t0 = now();
    const m = await machine.checkpoint(dir);
    save.kvmts.push(elapsed(t0));
    image = allocated(path.join(dir, 'memory.img'));
    const copy = path.join(work, `cp-full-${r}.img`);
    save.cp.push(cpAndSync(path.join(dir, 'memory.img'), copy));
    made.push(copy);
    if (r > 0) made.push(dir); // full-0 stays for the restore scenarios
    log(`  save round ${r}: kvmts ${(save.kvmts[r] / 1e6).toFixed(1)} ms (${m.memory.dataPages} data pages), cp+sync ${(save.cp[r] / 1e6).toFixed(1)} ms`);
  }
  removeAll(made);
  const saveNs = median(save.kvmts);
  const cpNs = median(save.cp);
  results.push({ scenario: 'save', kvmts_ns_per_op: saveNs, baseline_ns_per_op: cpNs, ratio: saveNs / cpNs, target: SAVE_TARGET_RATIO, note: `${cp}; ${(image / MIB).toFixed(1)} MiB stored of ${options.memoryMib} MiB; kvmts ${((image / MIB) / (saveNs / 1e9)).toFixed(0)} MiB/s, cp ${((image / MIB) / (cpNs / 1e9)).toFixed(0)} MiB/s` });

  await incrementalSweep(machine, work, options, log, results, memoryBytes, saveNs, cpNs);
}

/**
 * The sweep's sizes in round `round`'s order: a shuffle seeded with the round (mulberry32), so
 * the orders differ from round to round and are the same in every run.
 */
function roundOrder(points, round) {
  let seed = (round + 1) * 0x9e3779b9;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = [...points];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Sets how many pages the guest's next pass rewrites (incremental-tests.S reads rcx after its marker exit). */
async function setPassPages(machine, pages) {
  const vcpu = machine.vcpus[0];
  const context = await vcpu.call('threadContext');
  context.regs.rcx = BigInt(pages);
  await vcpu.call('setThreadContext', context);
}

/**
 * save-incremental and save-incremental-per-page: a chain of links over a tracked base, each
 * storing what one guest pass rewrote — SWEEP_PAGES[i] pages (0: no guest run, an empty link),
 * the sizes taking turns in every round in an order of their own (roundOrder), so that neither a
 * disk slowing down mid-run nor the size before weighs on one size more than on another. Then
 * cp + fsync of each link's memory.img, in the same order, each to a copy of its own: cp's
 * rounds follow cp's writes as kvmts' follow kvmts', and nothing is removed until both are done
 * (cpAndSync). The per-size medians are fitted with a line, time = fixed + per-page × pages, for
 * kvmts and for cp: proportional to the dirty pages means every size is close to the line
 * (worst_fit_error) and kvmts' per-page cost is cp's.
 */
async function incrementalSweep(machine, work, options, log, results, memoryBytes, saveNs, cpNs) {
  let parent = path.join(work, 'base');
  await machine.checkpoint(parent, { track: true });
  const points = SWEEP_PAGES.map((pages) => ({ pages, kvmts: [], cp: [], stored: [], extra: [] }));
  const links = [];
  for (let r = 0; r < options.rounds; r++) {
    for (const point of roundOrder(points, r)) {
      const { pages } = point;
      if (pages > 0) {
        await setPassPages(machine, pages);
        await expectExits(machine, 2, `incremental pass of ${pages} pages`);
      }
      const dir = path.join(work, `inc-${r}-${pages}`);
      const t0 = now();
      const m = await machine.checkpoint(dir, { parent });
      point.kvmts.push(elapsed(t0));
      // The nested tier logged 4 pages more than the guest writes (see checkpoint-incremental.kvm.test.ts): bounded, reported.
      if (m.memory.pages < pages || m.memory.pages > pages + 8 || (pages === 0 && m.memory.dataPages !== 0)) {
        throw new BenchError(`save-incremental: a link stored ${m.memory.pages} pages (${m.memory.dataPages} of data), the guest rewrote ${pages}`);
      }
      point.stored.push(m.memory.pages);
      point.extra.push(extraPages(dir, memoryBytes, pages));
      log(`  save-incremental round ${r}, ${pages} pages rewritten: kvmts ${(point.kvmts[r] / 1e6).toFixed(1)} ms (${m.memory.pages} pages stored, ${(allocated(path.join(dir, 'memory.img')) / MIB).toFixed(1)} MiB on disk; besides the guest's: ${point.extra[r]})`);
      links.push({ point, dir });
      parent = dir;
    }
  }
  const copies = links.map((_, i) => path.join(work, `cp-link-${i}.img`));
  links.forEach(({ point, dir }, i) => point.cp.push(cpAndSync(path.join(dir, 'memory.img'), copies[i])));
  removeAll([...copies, ...links.map((l) => l.dir)]);
  for (const p of points) log(`  save-incremental, ${p.pages} pages: cp+sync ${p.cp.map((ns) => (ns / 1e6).toFixed(1)).join(', ')} ms`);
  const mid = points.map((p) => ({ pages: p.pages, kvmts: median(p.kvmts), cp: median(p.cp), stored: median(p.stored), extra: p.extra[0] }));
  const at = (pages) => mid.find((p) => p.pages === pages);
  const empty = at(0);
  const reported = at(REPORTED_PAGES);
  // What a 4 MiB link adds to an empty one, against what a full save adds to it: proportional
  // to the data, that share is the data's (6.25 % here).
  const dataShare = INCREMENT_MIB / TOUCHED_MIB;
  const marginalShare = (reported.kvmts - empty.kvmts) / (saveNs - empty.kvmts);
  log(`  save-incremental: an empty link ${(empty.kvmts / 1e6).toFixed(1)} ms (rounds ${points[0].kvmts.map((ns) => (ns / 1e6).toFixed(1)).join(', ')}); beyond it, a ${INCREMENT_MIB} MiB link costs ${(marginalShare * 100).toFixed(1)} % of what a full save costs beyond it, for ${(dataShare * 100).toFixed(1)} % of its data`);
  results.push({
    scenario: 'save-incremental',
    kvmts_ns_per_op: reported.kvmts,
    baseline_ns_per_op: reported.cp,
    ratio: reported.kvmts / reported.cp,
    target: SAVE_TARGET_RATIO,
    extra: { empty_link_ns: Math.round(empty.kvmts), marginal_share: round(marginalShare, 4), data_share: dataShare, cp_share: round(reported.cp / cpNs, 4) },
    note: `${reported.stored} pages per link (the guest rewrote ${REPORTED_PAGES}; the others: ${reported.extra}); ${((reported.kvmts / saveNs) * 100).toFixed(1)} % of a full save for ${(dataShare * 100).toFixed(1)} % of its data; an empty link ${(empty.kvmts / 1e6).toFixed(2)} ms, and beyond it ${(marginalShare * 100).toFixed(1)} % of a full save's cost beyond it (cp: the link's image takes ${((reported.cp / cpNs) * 100).toFixed(1)} % of the full image's time)`,
  });
  // The line through each side's medians, fitted by relative error (weights 1 / t²): unweighted,
  // the 16 384-page point alone would decide it and the small sizes could be far off it.
  const xs = mid.map((p) => p.stored);
  const side = (key) => {
    const ys = mid.map((p) => p[key]);
    const line = linearFit(xs, ys, ys.map((y) => 1 / y ** 2));
    return { ...line, worst: worstRelativeError(xs, ys, line) };
  };
  const k = side('kvmts');
  const c = side('cp');
  const perPage = (line) => `${(line.intercept / 1e6).toFixed(2)} ms + ${(line.slope / 1e3).toFixed(3)} µs per page (no size off the line by more than ${(line.worst * 100).toFixed(1)} %)`;
  log(`  save-incremental-per-page: kvmts ${perPage(k)}, cp+sync ${perPage(c)}`);
  results.push({
    scenario: 'save-incremental-per-page',
    perPage: true,
    kvmts_ns_per_op: k.slope,
    baseline_ns_per_op: c.slope,
    ratio: k.slope / c.slope,
    target: SAVE_TARGET_RATIO,
    extra: {
      op: 'a stored page',
      fixed_ns: Math.round(k.intercept),
      baseline_fixed_ns: Math.round(c.intercept),
      worst_fit_error: round(k.worst, 4),
      baseline_worst_fit_error: round(c.worst, 4),
      worst_size_ratio: round(Math.max(...mid.map((p) => p.kvmts / p.cp)), 4),
      points: mid.map((p) => ({ pages: p.pages, stored: p.stored, kvmts_ns: Math.round(p.kvmts), cp_ns: Math.round(p.cp), ratio: round(p.kvmts / p.cp, 4) })),
    },
    note: `links of ${SWEEP_PAGES.join(', ')} rewritten pages, medians, a line fitted by relative error: a link costs ${perPage(k)}; cp + fsync of its image ${perPage(c)}; size by size, kvmts / cp ${mid.map((p) => (p.kvmts / p.cp).toFixed(2)).join(', ')}; measured empty links: kvmts ${(empty.kvmts / 1e6).toFixed(2)} ms, cp ${(empty.cp / 1e6).toFixed(2)} ms (a process started)`,
  });
}

/** restore-cold: a new node process per round, to the restored guest's first exit. */
function coldScenario(full, options, log, vcpuThread) {
  const cold = [];
  const scenario = vcpuThread === 'main' ? 'restore-cold-main-thread' : 'restore-cold';
  for (let r = 0; r < options.rounds; r++) {
    const t0 = now();
    const child = spawnSync(process.execPath, [COLD_CHILD, full, vcpuThread], { encoding: 'utf8', timeout: 300_000 });
    if (child.status !== 0) throw new BenchError(`${scenario}: the child failed (${child.status}): ${child.stderr}`);
    const marks = JSON.parse(child.stdout.trim().split('\n').pop());
    const at = (k) => Number(BigInt(marks[k]) - t0);
    const row = { node: at('scriptStart'), modules: at('modulesLoaded') - at('scriptStart'), restore: at('restored') - at('modulesLoaded'), run: at('firstExit') - at('restored') };
    row.total = at('firstExit');
    cold.push(row);
    log(`  ${scenario} round ${r}: ${(row.total / 1e6).toFixed(1)} ms = node start ${(row.node / 1e6).toFixed(1)} + modules ${(row.modules / 1e6).toFixed(1)} + restoreMachine ${(row.restore / 1e6).toFixed(1)} + run to first exit ${(row.run / 1e6).toFixed(1)}`);
  }
  const mid = (k) => median(cold.map((c) => c[k]));
  return { scenario, kvmts_ns_per_op: mid('total'), baseline_ns_per_op: null, ratio: mid('total') / RESTORE_TARGET_NS, target: null, note: `node start ${(mid('node') / 1e6).toFixed(1)} ms + module load ${(mid('modules') / 1e6).toFixed(1)} ms + restoreMachine ${(mid('restore') / 1e6).toFixed(1)} ms + run to first exit ${(mid('run') / 1e6).toFixed(1)} ms` };
}

function jsonLines(results) {
  return results.map((r) => JSON.stringify({ scenario: r.scenario, kvmts_ns_per_op: round(r.kvmts_ns_per_op, 0), baseline_ns_per_op: round(r.baseline_ns_per_op, 0), ratio: round(r.ratio, 4), ...(r.baseline_ns_per_op === null ? { ratio_of: 'target 5 ms' } : {}), ...r.extra, note: r.note }));
}

function humanLines(results) {
  const ms = (ns) => (ns === null ? '-' : `${(ns / 1e6).toFixed(2)} ms`);
  const us = (ns) => `${(ns / 1e3).toFixed(3)} µs/page`;
  const width = Math.max(...results.map((r) => r.scenario.length));
  return results.map((r) => {
    const time = r.perPage ? us : ms;
    const toTarget = r.extra?.ratio_to_target;
    // restore: a ratio against C, judged by the 5 ms target (a figure from elsewhere, kept as a field).
    const verdict = toTarget !== undefined ? (toTarget <= 1 ? 'PASS (5 ms)' : 'FAIL (5 ms)') : r.target === null ? '(reported)' : r.ratio <= r.target ? 'PASS' : 'FAIL';
    const against = r.baseline_ns_per_op === null ? `${r.ratio.toFixed(3)} of the 5 ms target` : r.target === null ? `ratio ${r.ratio.toFixed(3)} to C, ${toTarget}× the 5 ms target` : `ratio ${r.ratio.toFixed(3)} (target ≤ ${r.target.toFixed(2)})`;
    return `${r.scenario.padEnd(width)} kvmts ${time(r.kvmts_ns_per_op)}  baseline ${time(r.baseline_ns_per_op)}  ${against} ${verdict}\n${''.padEnd(width)} ${r.note}`;
  });
}

module.exports = { description, runCheckpoint, jsonLines, humanLines };
