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

/** One trace line of the loader: `kvmts: code cache: <bundle> <state> [file] (read and check X ms, compile Y ms; Z ms after the thread started)`. */
const LOADED = /^kvmts: code cache: (\S+) (used|rejected|miss|off)(?: \S+)? \(read and check ([\d.]+) ms, compile ([\d.]+) ms; ([\d.]+) ms after the thread started(?:; [^)]*)?\)$/;
/** `kvmts: code cache: <bundle> evaluated in W ms (V ms after the thread started)`. */
const EVALUATED = /^kvmts: code cache: (\S+) evaluated in ([\d.]+) ms \(([\d.]+) ms after the thread started\)$/;

/**
 * The loader's trace in `stderr`, per bundle file name (the first start of each: the main
 * thread's CLI, the first vCPU thread's worker): state, read/check and compile ms, when the
 * compile ended and, when traced, when the evaluation ended (ms since that thread started).
 */
function parseCodeCacheTrace(stderr) {
  const out = {};
  for (const line of stderr.split('\n')) {
    const loaded = LOADED.exec(line.trim());
    if (loaded && !out[loaded[1]]) {
      out[loaded[1]] = { state: loaded[2], readMs: Number(loaded[3]), compileMs: Number(loaded[4]), compiledAtMs: Number(loaded[5]) };
      continue;
    }
    const evaluated = EVALUATED.exec(line.trim());
    if (evaluated && out[evaluated[1]] && out[evaluated[1]].evaluatedAtMs === undefined) {
      out[evaluated[1]].evaluateMs = Number(evaluated[2]);
      out[evaluated[1]].evaluatedAtMs = Number(evaluated[3]);
    }
  }
  return out;
}

/**
 * The phases, in order, as [name, ms] (each the time from the previous one's end), for the
 * main thread; then the first vCPU thread's own start (its thread's clock, which started
 * when the CLI started it: beside the main thread, not in the sum). Missing parts are null.
 */
const MAIN_PHASES = [
  ['Node start-up, bin.js, freshness check, loader', (s, t) => (t.cli ? t.cli.compiledAtMs - t.cli.compileMs - t.cli.readMs : null)],
  ['CLI bundle: read + code-cache key/check', (s, t) => (t.cli ? t.cli.readMs : null)],
  ['CLI bundle: compile (code cache: deserialize)', (s, t) => (t.cli ? t.cli.compileMs : null)],
  ['CLI bundle evaluated, program built → `boot` runs', (s, t) => (t.cli && s['cli-loaded'] !== undefined ? s['cli-loaded'] - t.cli.compiledAtMs : null)],
  ['kernel opened (BootFile; or read)', (s) => diff(s, 'cli-loaded', 'kernel-opened')],
  ['initrd opened (or read)', (s) => diff(s, 'kernel-opened', 'initrd-opened')],
  ['arch plugin found + loaded, Linux profile', (s) => diff(s, 'initrd-opened', 'inputs-read')],
  ['machine built (VM, RAM + kernel, GIC, devices, vCPU in its thread)', (s) => diff(s, 'inputs-read', 'machine-built')],
  // kvmts boot's collection in every thread before the guest runs (packages/cli/src/startup-collection.ts), when it ran.
  ['start-up collection (every thread at once, malloc_trim)', (s) => diff(s, 'inputs-released', 'start-up-collected')],
  ['inputs released, console, signals → machine.run()', (s, t, startMs) => (s['machine-built'] !== undefined ? startMs - s['machine-built'] - (diff(s, 'inputs-released', 'start-up-collected') ?? 0) : null)],
];

const WORKER_PHASES = [
  ['vCPU thread: Node worker start-up, loader', (t) => (t ? t.compiledAtMs - t.compileMs - t.readMs : null)],
  ['vCPU thread: worker bundle read + key/check', (t) => (t ? t.readMs : null)],
  ['vCPU thread: worker bundle compile', (t) => (t ? t.compileMs : null)],
  ['vCPU thread: worker bundle evaluated', (t) => (t && t.evaluatedAtMs !== undefined ? t.evaluatedAtMs - t.compiledAtMs : null)],
];

function diff(steps, from, to) {
  return steps[from] !== undefined && steps[to] !== undefined ? steps[to] - steps[from] : null;
}

/** One boot's phases: `{ main: [[name, ms|null]...], worker: [...], startMs }`. */
function startupPhases(summary, stderr) {
  const steps = summary.startupSteps ?? {};
  const trace = parseCodeCacheTrace(stderr);
  // The vCPU worker bundle: one per arch now (vcpu-worker-x86_64.js, vcpu-worker-arm64.js), a single vcpu-worker.js before.
  const workerName = Object.keys(trace).find((name) => /^vcpu-worker(-[a-z0-9_]+)?\.js$/.test(name) && name !== 'vcpu-worker-start.js');
  const t = { cli: trace['kvmts.js'], worker: workerName === undefined ? undefined : trace[workerName] };
  return {
    main: MAIN_PHASES.map(([name, f]) => [name, round(f(steps, t, summary.startMs))]),
    worker: WORKER_PHASES.map(([name, f]) => [name, round(f(t.worker))]),
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
