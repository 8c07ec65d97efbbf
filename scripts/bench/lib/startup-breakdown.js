'use strict';
/**
 * Where `kvmts boot`'s start-up goes (process start → machine.run()), from what one boot
 * reports about itself: its --json summary's `startupSteps` (ms since the process started, taken
 * by the boot command) and the code-cache loader's trace on stderr (KVMTS_CODE_CACHE_TRACE=1:
 * per bundle, reading and checking it, compiling it, and when, in its own thread's time).
 * Pure: scripts/bench/boot-startup.js feeds it, packages/cli/test/bench-boot-startup.test.ts
 * checks it on golden text.
 */
const { median } = require('./stats');

/**
 * One trace line of the loader: `kvmts: code cache: <bundle> <state> [file] (read and check X
 * ms, compile Y ms; Z ms after the process started[; …])`. Builds before the start-up trace
 * said "after the thread started" (Node 20's threads count from the process's start too).
 */
const LOADED = /^kvmts: code cache: (\S+) (used|rejected|miss|off)(?: \S+)? \(read and check ([\d.]+) ms, compile ([\d.]+) ms; ([\d.]+) ms after the (?:thread|process) started(?:; [^)]*)?\)$/;
/** `kvmts: code cache: <bundle> evaluated in W ms (V ms after the process started)`. */
const EVALUATED = /^kvmts: code cache: (\S+) evaluated in ([\d.]+) ms \(([\d.]+) ms after the (?:thread|process) started\)$/;
/** The start-up trace's own lines (packages/cli/src/bundle/startup-trace.ts): `kvmts: start-up: <what> at X ms after the process started`. */
const STARTUP = /^kvmts: start-up: (.+) at ([\d.]+) ms after the process started$/;
/** Its events, by what the line says: dist/bin.js started the vCPU threads; a vCPU thread's first own line ran. */
const STARTUP_EVENTS = [
  ['threadsStartedAtMs', /^\d+ vCPU thread\(s\) started$/],
  ['workerBootstrappedAtMs', /^vCPU thread bootstrapped/],
];

/**
 * The loader's trace in `stderr`, per bundle file name (the first start of each: the main
 * thread's CLI, the first vCPU thread's worker): state, read/check and compile ms, when the
 * compile ended and, when traced, when the evaluation ended (ms since the process started);
 * and under `startup` the first time of each start-up event (STARTUP_EVENTS).
 */
function parseCodeCacheTrace(stderr) {
  const out = {};
  const startup = {};
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    const loaded = LOADED.exec(line);
    if (loaded && !out[loaded[1]]) {
      out[loaded[1]] = { state: loaded[2], readMs: Number(loaded[3]), compileMs: Number(loaded[4]), compiledAtMs: Number(loaded[5]) };
      continue;
    }
    const evaluated = EVALUATED.exec(line);
    if (evaluated && out[evaluated[1]] && out[evaluated[1]].evaluatedAtMs === undefined) {
      out[evaluated[1]].evaluateMs = Number(evaluated[2]);
      out[evaluated[1]].evaluatedAtMs = Number(evaluated[3]);
      continue;
    }
    const event = STARTUP.exec(line);
    if (event) {
      const known = STARTUP_EVENTS.find(([, re]) => re.test(event[1]));
      if (known && startup[known[0]] === undefined) startup[known[0]] = Number(event[2]);
    }
  }
  return Object.keys(startup).length ? { ...out, startup } : out;
}

/** When a bundle's read began (ms since the process started). */
const readStartMs = (b) => b.compiledAtMs - b.compileMs - b.readMs;

/**
 * The main thread's phases, in order, as [name, ms] (each the time from the previous one's
 * end; they add up to startMs). `t` has the trace's bundles (cli, worker) and start-up events
 * (`startup`); `s` the boot's startupSteps. A build that traced or stepped less (an older one)
 * gets null where it said nothing, and its time falls into the next phase it did say.
 */
const MAIN_PHASES = [
  ['Node start-up, bin.js, freshness check → vCPU thread started', (s, t) => t.startup.threadsStartedAtMs ?? null],
  ['code-cache loader loaded (before: Node start-up, bin.js, loader)', (s, t) => (t.cli ? readStartMs(t.cli) - (t.startup.threadsStartedAtMs ?? 0) : null)],
  ['CLI bundle: read + code-cache key/check', (s, t) => (t.cli ? t.cli.readMs : null)],
  ['CLI bundle: compile (code cache: deserialize)', (s, t) => (t.cli ? t.cli.compileMs : null)],
  ['CLI bundle evaluated, program built → `boot` runs', (s, t) => (t.cli && s['cli-loaded'] !== undefined ? s['cli-loaded'] - t.cli.compiledAtMs : null)],
  ['kernel opened (BootFile; or read)', (s) => diff(s, 'cli-loaded', 'kernel-opened')],
  ['initrd opened (or read)', (s) => diff(s, 'kernel-opened', 'initrd-opened')],
  ['arch plugin found + loaded, Linux profile', (s) => diff(s, 'initrd-opened', 'inputs-read')],
  ['VM prepared (VM, RAM, GIC, devices, boot layout; before: and the kernel read)', (s) => diff(s, 'inputs-read', 'vm-prepared')],
  // A build with the 'machine-ready' step reads the kernel and initrd on the thread pool beside
  // the vCPU build and the start-up collection (core's whileBootFilesLoad): its own row below is
  // what the machine still waited for after them; an older one read them beside the vCPU build.
  ['kernel + initrd read into guest RAM, beside the vCPU build', (s) => (overlapped(s) ? null : diff(s, 'vm-prepared', 'boot-files-read'))],
  ['waiting for the vCPU thread, its vCPU built (before: all of the machine build)', (s) => (overlapped(s) ? diff(s, 'vm-prepared', 'machine-built') : diff(s, lastOf(s, ['boot-files-read', 'vm-prepared', 'inputs-read']), 'machine-built'))],
  // kvmts boot's collection in every thread before the guest runs (packages/cli/src/startup-collection.ts), when it ran.
  ['start-up collection (every thread at once, malloc_trim)', (s) => diff(s, 'inputs-released', 'start-up-collected')],
  ['kernel + initrd read on the thread pool: the rest, waited for after the collection', (s) => (overlapped(s) ? s['machine-ready'] - s[lastOf(s, ['start-up-collected', 'inputs-released', 'machine-built'])] : null)],
  ['inputs released, console, signals → machine.run()', (s, t, startMs) => {
    if (s['machine-built'] === undefined) return null;
    if (overlapped(s)) return startMs - s['machine-ready'] + (diff(s, 'machine-built', 'inputs-released') ?? 0);
    return startMs - s['machine-built'] - (diff(s, 'inputs-released', 'start-up-collected') ?? 0);
  }],
];

/**
 * The first vCPU thread, on the process's clock: when it started, how long each of its steps
 * took, when it was ready for its machine, and how long the main thread waited for that.
 */
const WORKER_PHASES = [
  ['vCPU thread started at (ms since the process started)', (t) => t.startup.threadsStartedAtMs ?? null],
  ['vCPU thread: Node worker bootstrap', (t) => (t.startup.workerBootstrappedAtMs !== undefined && t.startup.threadsStartedAtMs !== undefined ? t.startup.workerBootstrappedAtMs - t.startup.threadsStartedAtMs : null)],
  ['vCPU thread: loader loaded (before: from the process start, Node start-up, bootstrap and loader)', (t) => (t.worker ? readStartMs(t.worker) - (t.startup.workerBootstrappedAtMs ?? 0) : null)],
  ['vCPU thread: worker bundle read + key/check', (t) => (t.worker ? t.worker.readMs : null)],
  ['vCPU thread: worker bundle compile', (t) => (t.worker ? t.worker.compileMs : null)],
  ['vCPU thread: worker bundle evaluated', (t) => (t.worker && t.worker.evaluatedAtMs !== undefined ? t.worker.evaluatedAtMs - t.worker.compiledAtMs : null)],
  ['vCPU thread ready for its machine at (ms since the process started)', (t) => (t.worker && t.worker.evaluatedAtMs !== undefined ? t.worker.evaluatedAtMs : null)],
  ['main thread waited for it (ready − VM prepared)', (t, s) => (t.worker && t.worker.evaluatedAtMs !== undefined && s['vm-prepared'] !== undefined ? Math.max(0, t.worker.evaluatedAtMs - s['vm-prepared']) : null)],
];

/** A boot whose kernel and initrd were read beside the vCPU build and the collection (it marks 'machine-ready'). */
const overlapped = (steps) => steps['machine-ready'] !== undefined && steps['machine-built'] !== undefined;

/** The first of `names` that `steps` has (the latest step a build took, for builds with fewer). */
const lastOf = (steps, names) => names.find((n) => steps[n] !== undefined);

function diff(steps, from, to) {
  return steps[from] !== undefined && steps[to] !== undefined ? steps[to] - steps[from] : null;
}

/** One boot's phases: `{ main: [[name, ms|null]...], worker: [...], startMs }`. */
function startupPhases(summary, stderr) {
  const steps = summary.startupSteps ?? {};
  const trace = parseCodeCacheTrace(stderr);
  // The vCPU worker bundle: one per arch now (vcpu-worker-x86_64.js, vcpu-worker-arm64.js), a single vcpu-worker.js before.
  const workerName = Object.keys(trace).find((name) => /^vcpu-worker(-[a-z0-9_]+)?\.js$/.test(name) && name !== 'vcpu-worker-start.js');
  const t = { cli: trace['kvmts.js'], worker: workerName === undefined ? undefined : trace[workerName], startup: trace.startup ?? {} };
  return {
    main: MAIN_PHASES.map(([name, f]) => [name, round(f(steps, t, summary.startMs))]),
    worker: WORKER_PHASES.map(([name, f]) => [name, round(f(t, steps))]),
    startMs: summary.startMs,
    codeCache: { cli: t.cli?.state ?? null, worker: t.worker?.state ?? null },
  };
}

const round = (v) => (v === null || Number.isNaN(v) ? null : Math.round(v * 10) / 10);

/** Per phase, the median over boots (the same phases in each); null where no boot had it. */
function medianPhases(boots) {
  const pick = (part) => boots[0][part].map(([name], i) => {
    const values = boots.map((b) => b[part][i][1]).filter((v) => v !== null);
    return [name, values.length ? round(median(values)) : null];
  });
  return { main: pick('main'), worker: pick('worker'), startMs: round(median(boots.map((b) => b.startMs))) };
}

/** Markdown rows: phase, then one column of ms per side (e.g. before, now). */
function phaseTable(sides) {
  const labels = Object.keys(sides);
  const cell = (v) => (v === null || v === undefined ? '' : v.toFixed(0));
  const rows = [`| step | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---:').join('|')}|`];
  const first = sides[labels[0]];
  first.main.forEach(([name], i) => rows.push(`| ${name} | ${labels.map((l) => cell(sides[l].main[i][1])).join(' | ')} |`));
  rows.push(`| **process start → machine.run() (startMs)** | ${labels.map((l) => `**${cell(sides[l].startMs)}**`).join(' | ')} |`);
  first.worker.forEach(([name], i) => rows.push(`| ${name} | ${labels.map((l) => cell(sides[l].worker[i][1])).join(' | ')} |`));
  return rows;
}

module.exports = { parseCodeCacheTrace, startupPhases, medianPhases, phaseTable };
