/**
 * collectGarbage() sets `--expose-gc` only for as long as it takes to fetch `gc`: V8 keys every
 * code cache by a hash of its flags, so a process that left the flag on would write code caches
 * (the bundled CLI writes its own at exit, after `kvmts boot` has collected its start-up
 * garbage) that every later, flag-less start refuses. Proved across real processes: one makes a
 * cache after collecting, a fresh one takes it; the control shows the same check refusing a
 * cache made with the flag left on, so the test can tell the two apart.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SOURCE = 'function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i * 3; return s; } work(1000);';

/** Runs `prelude` in a fresh Node, then compiles SOURCE and writes its code cache to `file`. */
function makeCache(prelude: string, file: string): void {
  const script = `${prelude}
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
});
