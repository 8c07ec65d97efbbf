/**
 * collectGarbage() sets `--expose-gc` only for as long as it takes to fetch `gc`: V8 keys every
 * code cache by a hash of its flags, so a process that left the flag on would write code caches
 * (the bundled CLI writes its own at exit, after `kvmts boot` has collected its start-up
 * garbage) that every later, flag-less start refuses. Proved across real processes: one makes a
 * cache after collecting, a fresh one takes it; the control shows the same check refusing a
 * cache made with the flag left on, so the test can tell the two apart. The flag is
 * process-wide, and threads collect at once (`kvmts boot` collects in the main thread and every
 * vCPU thread together): each must still find `gc`, and the flag must end up off.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SOURCE = 'function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i * 3; return s; } work(1000);';

/**
 * Runs `prelude` in a fresh Node, then compiles SOURCE and writes its code cache to `file`
 * (without a file, the prelude writes it itself). The child failing fails the test.
 */
function makeCache(prelude: string, file: string | undefined): void {
  const script = file === undefined ? prelude : `${prelude}
const vm = require('node:vm');
const s = new vm.Script(${JSON.stringify(SOURCE)});
s.runInThisContext();
require('node:fs').writeFileSync(${JSON.stringify(file)}, s.createCachedData());`;
  execFileSync(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '..'), env: { ...process.env, NODE_OPTIONS: '' } });
}

/** Whether a fresh, flag-less Node refuses the cache in `file` for SOURCE. */
function refusedByFreshNode(file: string): boolean {
  const script = `const vm = require('node:vm');
const s = new vm.Script(${JSON.stringify(SOURCE)}, { cachedData: require('node:fs').readFileSync(${JSON.stringify(file)}) });
process.stdout.write(String(s.cachedDataRejected));`;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (out !== 'true' && out !== 'false') throw new Error(`unexpected answer ${out}`);
  return out === 'true';
}

describe('collectGarbage and V8 code caches', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-gc-cache-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a code cache made after collectGarbage() is taken by a fresh Node (the flag hash is back)', () => {
    const file = path.join(dir, 'after-collect.cache');
    // Real work for gc() to do, and a check that it ran and left no global `gc` behind.
    makeCache(
      `const { collectGarbage, threadHeapStatistics } = require('@kvmts/core');
let junk = Array.from({ length: 100000 }, (_, i) => ({ i })); junk = undefined;
collectGarbage(); collectGarbage();
if (typeof globalThis.gc !== 'undefined') throw new Error('gc leaked onto the global');
if (!(threadHeapStatistics().usedHeapBytes > 0)) throw new Error('no heap');`,
      file,
    );
    expect(refusedByFreshNode(file)).toBe(false);
  });

  it('control: a cache made with --expose-gc left on is refused by the same check', () => {
    const file = path.join(dir, 'flag-left-on.cache');
    makeCache(`require('node:v8').setFlagsFromString('--expose-gc');`, file);
    expect(refusedByFreshNode(file)).toBe(true);
  });

  it('control: a cache made by a plain Node is taken', () => {
    const file = path.join(dir, 'plain.cache');
    makeCache('', file);
    expect(refusedByFreshNode(file)).toBe(false);
  });

  it('threads fetching gc at once each get it, and the flag ends up off: a cache made afterwards is taken', () => {
    const file = path.join(dir, 'after-threads.cache');
    const threadHeap = path.resolve(__dirname, '..', 'dist', 'machine', 'thread-heap.js');
    // Rounds of 6 fresh threads (gc is fetched once per thread) released together by one Atomics
    // notify, each collecting at once; every thread must report 'ok'.
    makeCache(
      `const { Worker } = require('node:worker_threads');
const threadBody = \`const { workerData, parentPort } = require('node:worker_threads');
const { collectGarbage } = require(\${JSON.stringify(${JSON.stringify(threadHeap)})});
const go = new Int32Array(workerData);
parentPort.postMessage('waiting');
Atomics.wait(go, 0, 0);
try { collectGarbage(); parentPort.postMessage('ok'); } catch (e) { parentPort.postMessage(String(e)); }\`;
async function round() {
  const go = new SharedArrayBuffer(4);
  const threads = Array.from({ length: 6 }, () => new Worker(threadBody, { eval: true, workerData: go }));
  const results = threads.map((w) => new Promise((resolve) => { const seen = []; w.on('message', (m) => { seen.push(m); if (seen.length === 2) resolve(seen[1]); }); }));
  await Promise.all(threads.map((w) => new Promise((resolve) => w.once('message', resolve))));
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const answers = await Promise.all(results);
  await Promise.all(threads.map((w) => w.terminate()));
  return answers;
}
(async () => {
  for (let i = 0; i < 5; i++) {
    const answers = await round();
    if (answers.some((a) => a !== 'ok')) { console.error(JSON.stringify(answers)); process.exit(3); }
  }
  if (typeof globalThis.gc !== 'undefined') process.exit(4);
  const vm = require('node:vm');
  const s = new vm.Script(${JSON.stringify(SOURCE)});
  s.runInThisContext();
  require('node:fs').writeFileSync(${JSON.stringify(file)}, s.createCachedData());
  process.exit(0);
})();`,
      undefined,
    );
    expect(refusedByFreshNode(file)).toBe(false);
  }, 60_000);
});
