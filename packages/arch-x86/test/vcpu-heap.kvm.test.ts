/**
 * Machine.vcpuHeapStatistics: each vCPU thread answers with its own V8 heap (a worker thread
 * has its own isolate, which process.memoryUsage() on the main thread does not see), through
 * the worker's call channel — only while the machine is stopped, never after close().
 */
import 'reflect-metadata';
import { LifecycleError, threadHeapStatistics } from '@kvmts/core';
import { spinMachine } from './support/spin-machine';

const MiB = 1 << 20;
describeKvm('vCPU thread heaps', () => {
  it('answers one heap per vCPU, each its own thread`s and not the main thread`s', async () => {
    const m = await spinMachine(2);
    // 16+ MiB of live objects on the main thread only: no vCPU thread may report them.
    const held = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `object ${i}` }));
    try {
      const heaps = await m.vcpuHeapStatistics();
      const main = threadHeapStatistics();
      expect(heaps).toHaveLength(2);
      for (const h of heaps) {
        expect(h.usedHeapBytes).toBeGreaterThan(MiB);
        expect(h.usedHeapBytes).toBeLessThanOrEqual(h.totalHeapBytes);
        expect(h.nativeContexts).toBeGreaterThanOrEqual(1);
        expect(main.usedHeapBytes - h.usedHeapBytes).toBeGreaterThan(8 * MiB);
      }
      expect(held).toHaveLength(200_000);
    } finally {
      await m.close();
    }
  });

  it('collects first with gc: two collected readings in a row agree within 256 KiB', async () => {
    const m = await spinMachine(1);
    try {
      const [first] = await m.vcpuHeapStatistics({ gc: true });
      const [second] = await m.vcpuHeapStatistics({ gc: true });
      expect(Math.abs(second.usedHeapBytes - first.usedHeapBytes)).toBeLessThan(256 * 1024);
      // The full collection of the first call created gc's context in that thread; it stays one.
      expect(second.nativeContexts).toBe(first.nativeContexts);
    } finally {
      await m.close();
    }
  });

  it('refuses while the vCPUs run and after close, with a LifecycleError', async () => {
    const m = await spinMachine(1);
    const run = m.run();
    try {
      await expect(m.vcpuHeapStatistics()).rejects.toThrow(LifecycleError);
    } finally {
      await m.stop();
      await run;
    }
    await expect(m.vcpuHeapStatistics()).resolves.toHaveLength(1);
    await m.close();
    await expect(m.vcpuHeapStatistics()).rejects.toThrow(LifecycleError);
  });
});
