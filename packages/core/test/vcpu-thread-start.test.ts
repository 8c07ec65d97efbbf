/**
 * vCPU threads started before core loads (machine/vcpu-thread-start.ts), host tier, with real
 * worker threads: the settings they start with are the pool's (golden), how many start (the
 * pool's size bounds them, a malformed setting starts none), and the pool adopting them — the
 * same threads, once, per script, and not those that died meanwhile.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import {
  DEFAULT_VCPU_POOL_SIZE,
  earlyVcpuThreadCount,
  resourceLimitsFor,
  startEarlyVcpuThreads,
  takeEarlyVcpuThreads,
  vcpuPoolSizeSetting,
  vcpuThreadOptions,
  vcpuYoungGenerationSetting,
} from '../src/machine/vcpu-thread-start';
import { VcpuWorkerPool } from '../src/machine/vcpu-worker-pool';
import { DEFAULT_VCPU_POOL_SIZE as EXPORTED_POOL_SIZE, vcpuThreadResourceLimits } from '@kvmts/core';

const SCRIPT = path.join(__dirname, 'fixtures', 'echo-worker.js');
const who = (w: Worker): Promise<number> =>
  new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage('who');
  });

describe('vCPU threads started before core loads', () => {
  afterEach(async () => {
    // Whatever a test left unadopted ends here (every script the tests use).
    await Promise.all([SCRIPT].flatMap((s) => takeEarlyVcpuThreads(s)).map((w) => w.terminate()));
  });

  it('reads the pool size and the young-generation cap as the pool does (golden), undefined when malformed', () => {
    expect(DEFAULT_VCPU_POOL_SIZE).toBe(EXPORTED_POOL_SIZE);
    expect([undefined, '', '0', '7', '256', '257', '-1', '2.5', 'x'].map((v) => vcpuPoolSizeSetting({ KVMTS_VCPU_POOL: v }))).toEqual([4, 4, 0, 7, 256, undefined, undefined, undefined, undefined]);
    expect([undefined, '0', '16', '1025', 'lots'].map((v) => vcpuYoungGenerationSetting({ KVMTS_VCPU_YOUNG_GEN_MB: v }))).toEqual([4, 0, 16, undefined, undefined]);
    // The Worker options: the same limits core's pool computes (vcpu-thread-limits.ts).
    expect(vcpuThreadOptions(resourceLimitsFor(4))).toEqual({ stdout: false, stderr: false, resourceLimits: vcpuThreadResourceLimits({}) });
    expect(vcpuThreadOptions(resourceLimitsFor(0))).toEqual({ stdout: false, stderr: false });
  });

  it('starts as many as asked, bounded by the pool size; none for a malformed setting or a count of 0', async () => {
    expect(startEarlyVcpuThreads(SCRIPT, 2, {})).toBe(2);
    expect(earlyVcpuThreadCount()).toBe(2);
    // The pool's size bounds the early threads together.
    expect(startEarlyVcpuThreads(SCRIPT, 9, {})).toBe(2);
    expect(startEarlyVcpuThreads(SCRIPT, 1, {})).toBe(0);
    await Promise.all(takeEarlyVcpuThreads(SCRIPT).map((w) => w.terminate()));
    expect(startEarlyVcpuThreads(SCRIPT, 3, { KVMTS_VCPU_POOL: '1' })).toBe(1);
    await Promise.all(takeEarlyVcpuThreads(SCRIPT).map((w) => w.terminate()));
    expect(startEarlyVcpuThreads(SCRIPT, 1, { KVMTS_VCPU_POOL: 'x' })).toBe(0);
    expect(startEarlyVcpuThreads(SCRIPT, 1, { KVMTS_VCPU_YOUNG_GEN_MB: '-1' })).toBe(0);
    expect(startEarlyVcpuThreads(SCRIPT, 0, {})).toBe(0);
    expect(earlyVcpuThreadCount()).toBe(0);
  });

  it('hands the same threads to core`s pool once: idle there, then acquired without starting another', async () => {
    startEarlyVcpuThreads(SCRIPT, 2, {});
    const pool = new VcpuWorkerPool();
    pool.setCapacity(4);
    try {
      pool.prewarm(SCRIPT, 2);
      expect(pool.idleCount).toBe(2);
      expect(earlyVcpuThreadCount()).toBe(0);
      const a = pool.acquire(SCRIPT);
      const b = pool.acquire(SCRIPT);
      expect(a).not.toBe(b);
      expect(await who(a)).toBe(a.threadId);
      expect(await who(b)).toBe(b.threadId);
      expect(pool.idleCount).toBe(0);
      await Promise.all([a.terminate(), b.terminate()]);
    } finally {
      await pool.closeIdle();
    }
  });

  it('ends early threads nobody adopted when the pool shrinks or closes its idle threads, whatever their script', async () => {
    const pool = new VcpuWorkerPool();
    pool.setCapacity(4);
    startEarlyVcpuThreads(SCRIPT, 3, {});
    expect(earlyVcpuThreadCount()).toBe(3);
    // Shrinking to 1 keeps one early thread (it would fit as an idle one), the newest two end.
    pool.setCapacity(1);
    expect(earlyVcpuThreadCount()).toBe(1);
    // Closing the idle threads ends the early one too, though the pool never adopted it.
    expect(pool.idleCount).toBe(0);
    await pool.closeIdle();
    expect(earlyVcpuThreadCount()).toBe(0);
    expect(pool.idleCount).toBe(0);
    // Shrinking to 0 ends every early thread.
    startEarlyVcpuThreads(SCRIPT, 2, {});
    pool.setCapacity(0);
    expect(earlyVcpuThreadCount()).toBe(0);
  });

  it('keeps the threads of another script for their own taker, and drops one that ended before it was taken', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-early-'));
    const other = path.join(dir, 'other-worker.js');
    fs.copyFileSync(SCRIPT, other);
    // A thread that ends at once (as one whose script fails would), leaving a mark just before.
    const ended = path.join(dir, 'ended');
    const ending = path.join(dir, 'ending-worker.js');
    fs.writeFileSync(ending, `require('node:fs').writeFileSync(${JSON.stringify(ended)}, ''); process.exit(0);`);
    const pool = new VcpuWorkerPool();
    pool.setCapacity(4);
    try {
      startEarlyVcpuThreads(other, 1, {});
      startEarlyVcpuThreads(ending, 1, {});
      // Until its exit has reached this thread: only the other script's thread is alive then.
      for (const t0 = Date.now(); earlyVcpuThreadCount({ alive: true }) !== 1 && Date.now() - t0 < 20_000; ) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fs.existsSync(ended)).toBe(true);
      pool.prewarm(ending, 0);
      expect(pool.idleCount).toBe(0);
      expect(earlyVcpuThreadCount()).toBe(1); // the other script's, still waiting
      const [otherThread] = takeEarlyVcpuThreads(other);
      expect(await who(otherThread)).toBe(otherThread.threadId);
      await otherThread.terminate();
    } finally {
      await pool.closeIdle();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
