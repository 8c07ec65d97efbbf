'use strict';
/**
 * Runs a target's cases in a worker thread under a watchdog. Case i of a run seeded S is
 * generated from Prng(caseSeed(S, i)) alone, so any case replays by itself. A case that runs
 * longer than `timeLimitMs` is a hang: the worker is terminated and a fresh one continues after
 * it; a worker that dies (an uncaught error outside a case, out of memory) is a crash, likewise.
 * A case that drives the process past `memoryLimitMb` of RSS is a memory finding: before the
 * FDT builder checked its inputs, a junk value with a huge `length` made it allocate and fill
 * gigabytes until the kernel's OOM killer stepped in — on a machine other people share.
 */
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { Prng, caseSeed } = require('./prng');
const { encode } = require('./codec');
const { loadTarget } = require('./targets');
const { signature } = require('./classify');

const WORKER = path.join(__dirname, 'worker.js');
const DEFAULT_TIME_LIMIT_MS = 2000;
const DEFAULT_MEMORY_LIMIT_MB = 2048;
const STARTUP_LIMIT_MS = 60000;
const TERMINATE_LIMIT_MS = 10000;
/** The worker's V8 heap; typed-array memory is outside it, which the RSS watchdog covers. */
const WORKER_HEAP_MB = 1024;
const WATCH_INTERVAL_MS = 20;

/** Runs cases [start, end) (or inputs[start…]) in one worker until it finishes, hangs or dies. */
function runSlice(spec, start, onFinding, { timeLimitMs, memoryLimitMb }) {
  return new Promise((resolve) => {
    const progressBuffer = new SharedArrayBuffer(8);
    const progress = new Int32Array(progressBuffer);
    Atomics.store(progress, 0, start);
    const worker = new Worker(WORKER, { workerData: { ...spec, start, progress: progressBuffer }, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    let lastTick = -1;
    let lastChange = Date.now();
    let settled = false;
    /** Settle once; with `stop`, only after the worker has really exited (its memory released to the allocator). */
    const finish = (result, stop = false) => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      if (!stop) return resolve(result);
      // terminate() takes effect at the worker's next JavaScript instruction; a worker stuck in
      // one enormous native call (a multi-GB fill) may not get there. The watchdog is off by
      // then, so do not wait for it unboundedly: give up the run, and the CLI exits, worker and all.
      const gaveUp = setTimeout(() => resolve({ ...result, fatal: `the worker did not stop within ${TERMINATE_LIMIT_MS} ms of being terminated (case ${result.stoppedAt}, ${result.kind})` }), TERMINATE_LIMIT_MS);
      void worker.terminate().finally(() => {
        clearTimeout(gaveUp);
        resolve(result);
      });
    };
    const watch = setInterval(() => {
      const rssMb = process.memoryUsage.rss() / 2 ** 20;
      if (rssMb > memoryLimitMb) {
        finish({ stoppedAt: Atomics.load(progress, 0), kind: 'memory', error: { name: 'MemoryLimit', message: `the process reached ${Math.round(rssMb)} MiB RSS (limit ${memoryLimitMb})`, stack: '' } }, true);
        return;
      }
      const tick = Atomics.load(progress, 1);
      // Until its first case starts, the worker is loading the target and kvmts (seconds on a
      // busy machine): that is not a case's time.
      if (tick === 0) {
        if (Date.now() - lastChange > STARTUP_LIMIT_MS) finish({ stoppedAt: start, kind: 'crash', error: { name: 'StartupTimeout', message: `the worker did not start a case within ${STARTUP_LIMIT_MS} ms`, stack: '' } }, true);
        return;
      }
      if (tick !== lastTick) {
        lastTick = tick;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > timeLimitMs) {
        const index = Atomics.load(progress, 0);
        finish({ stoppedAt: index, kind: 'hang', error: { name: 'Hang', message: `case ran longer than ${timeLimitMs} ms`, stack: '' } }, true);
      }
    }, WATCH_INTERVAL_MS);
    worker.on('message', (m) => {
      if (m.type === 'finding') onFinding(m.index, m.finding, m.input);
      else if (m.type === 'done') finish({ stoppedAt: undefined });
    });
    worker.on('error', (e) => {
      finish({ stoppedAt: Atomics.load(progress, 0), kind: 'crash', error: { name: e?.name ?? 'Error', message: String(e?.message ?? e), stack: String(e?.stack ?? '').split('\n').slice(1, 6).join('\n') } });
    });
    worker.on('exit', (code) => {
      if (!settled) finish({ stoppedAt: Atomics.load(progress, 0), kind: 'crash', error: { name: 'WorkerExit', message: `worker exited with code ${code}`, stack: '' } });
    });
  });
}

/** Resolves once RSS is below `mb` MiB; gives up the whole run if it stays above for 10 s. */
async function waitForRssBelow(mb) {
  for (let i = 0; i < 200; i++) {
    if (process.memoryUsage.rss() / 2 ** 20 < mb) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fuzz: the process still holds ${Math.round(process.memoryUsage.rss() / 2 ** 20)} MiB after a memory finding; stopping`);
}

/**
 * @param {string} targetName
 * @param {{ seed?: number, cases?: number, timeLimitMs?: number, memoryLimitMb?: number, inputs?: unknown[], targetModule?: string }} options
 *   inputs: encoded inputs to replay instead of generated cases (a corpus)
 * @returns {Promise<{ target: string, seed: number, cases: number, seconds: number, findings: object[] }>}
 */
async function runTarget(targetName, options = {}) {
  // targetModule: a target outside the registry (the runner's own tests use one that misbehaves on purpose).
  const target = options.targetModule ? require(options.targetModule) : loadTarget(targetName); // fails early, here, for an unknown name
  const seed = options.seed ?? 1;
  const limits = { timeLimitMs: options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS, memoryLimitMb: options.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB };
  const total = options.inputs ? options.inputs.length : (options.cases ?? 1000);
  const spec = { targetName, targetModule: options.targetModule, ...(options.inputs ? { inputs: options.inputs } : { seed, end: total }) };
  const findings = [];
  // Inputs are kept for the first finding of each signature only (the one --save writes): a
  // run with thousands of findings must not hold thousands of inputs.
  const seen = new Set();
  const record = (finding, input) => {
    const sig = signature(finding);
    findings.push(seen.has(sig) ? finding : { ...finding, input });
    seen.add(sig);
  };
  const inputOf = (index) => (options.inputs ? options.inputs[index] : encode(target.generate(new Prng(caseSeed(seed, index)))));
  const t0 = process.hrtime.bigint();
  let start = 0;
  while (start < total) {
    const r = await runSlice(spec, start, (index, finding, input) => record({ target: targetName, seed, index, ...finding }, input), limits);
    if (r.stoppedAt === undefined) break;
    if (r.fatal) throw new Error(`fuzz: ${r.fatal}`);
    // A terminated worker's memory is returned asynchronously: wait for it, so the next case is
    // not blamed for the last one's RSS.
    if (r.kind === 'memory') await waitForRssBelow(limits.memoryLimitMb / 2);
    record({ target: targetName, seed, index: r.stoppedAt, kind: r.kind, error: r.error }, inputOf(r.stoppedAt));
    start = r.stoppedAt + 1;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { target: targetName, seed, cases: total, seconds, findings };
}

module.exports = { runTarget, DEFAULT_TIME_LIMIT_MS, DEFAULT_MEMORY_LIMIT_MB };
