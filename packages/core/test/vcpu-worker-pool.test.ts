/**
 * The pool of idle vCPU threads (machine/vcpu-worker-pool.ts) with real worker threads: a
 * released thread is the one the next acquire gets, capacity bounds what is kept, idle threads
 * that die leave the pool, and none of them keeps the process alive.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ConfigError } from '@kvmts/core';
import { VcpuWorkerPool } from '../src/machine/vcpu-worker-pool';

const SCRIPT = path.join(__dirname, 'fixtures', 'echo-worker.js');
const who = (w: Worker): Promise<number> =>
  new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage('who');
  });

describe('vCPU worker pool', () => {
  let pool: VcpuWorkerPool;
  beforeEach(() => {
    pool = new VcpuWorkerPool();
    pool.setCapacity(2);
  });
  afterEach(() => pool.closeIdle());

  it('hands a released thread to the next acquire instead of starting one', async () => {
    const a = pool.acquire(SCRIPT);
    const id = await who(a);
    expect(id).toBe(a.threadId);
    pool.release(SCRIPT, a);
    expect(pool.idleCount).toBe(1);
    const b = pool.acquire(SCRIPT);
    expect(b).toBe(a);
    expect(await who(b)).toBe(id);
    expect(pool.idleCount).toBe(0);
    await b.terminate();
  });

  it('keeps threads per script: another script gets a new thread', async () => {
    const otherScript = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-pool-')), 'other-worker.js');
    fs.copyFileSync(SCRIPT, otherScript);
    const a = pool.acquire(SCRIPT);
    await who(a);
    pool.release(SCRIPT, a);
    const b = pool.acquire(otherScript);
    expect(b).not.toBe(a);
    expect(await who(b)).not.toBe(a.threadId);
    expect(pool.idleCount).toBe(1);
    await b.terminate();
    fs.rmSync(path.dirname(otherScript), { recursive: true });
  });

  it('keeps at most its capacity; a release beyond it ends the thread', async () => {
    const ws = [pool.acquire(SCRIPT), pool.acquire(SCRIPT), pool.acquire(SCRIPT)];
    await Promise.all(ws.map(who));
    const ended = new Promise((resolve) => ws[2].once('exit', resolve));
    for (const w of ws) pool.release(SCRIPT, w);
    expect(pool.idleCount).toBe(2);
    await ended;
  });

  it('shrinking the capacity ends idle threads now; 0 keeps none', async () => {
    const ws = [pool.acquire(SCRIPT), pool.acquire(SCRIPT)];
    await Promise.all(ws.map(who));
    for (const w of ws) pool.release(SCRIPT, w);
    pool.setCapacity(0);
    expect(pool.idleCount).toBe(0);
    const w = pool.acquire(SCRIPT);
    pool.release(SCRIPT, w);
    expect(pool.idleCount).toBe(0);
  });

  it('prewarms up to the count asked and the capacity', async () => {
    pool.prewarm(SCRIPT, 5);
    expect(pool.idleCount).toBe(2);
    const w = pool.acquire(SCRIPT);
    expect(await who(w)).toBe(w.threadId);
    expect(pool.idleCount).toBe(1);
    await w.terminate();
  });

  it('an idle thread that dies leaves the pool', async () => {
    const w = pool.acquire(SCRIPT);
    await who(w);
    pool.release(SCRIPT, w);
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage('die');
    await exited;
    expect(pool.idleCount).toBe(0);
    const fresh = pool.acquire(SCRIPT);
    expect(fresh).not.toBe(w);
    await fresh.terminate();
  });

  it('refuses a capacity that is not a whole number 0–256', () => {
    for (const bad of [-1, 1.5, 257, NaN]) expect(() => pool.setCapacity(bad)).toThrow(ConfigError);
  });
});
