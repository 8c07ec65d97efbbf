/**
 * `kvmts boot`'s start-up collection (src/startup-collection.ts) on a real machine: before the
 * first run, the vCPU thread and this thread each drop the garbage their start-up left, and the
 * machine runs afterwards as if nothing had happened.
 */
import 'reflect-metadata';
import { createMachine, threadHeapStatistics } from '@kvmts/core';
import { assembleGuest, exitDevice } from '@kvmts/arch-x86';
import { collectStartupGarbage } from '../src/startup-collection';

const MiB = 1 << 20;

describeKvm('collectStartupGarbage', () => {
  it("frees the vCPU thread's build garbage and this thread's, then the guest runs", async () => {
    const tests = assembleGuest('long-mode-tests');
    const m = await createMachine({
      arch: 'x86_64',
      memory: '16M',
      cpus: 1,
      devices: [exitDevice()],
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('spin')! },
    });
    try {
      // Garbage on this thread, as a start-up leaves it: 200,000 objects no longer referenced.
      let garbage: { i: number; text: string }[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `object ${i}` }));
      expect(garbage).toHaveLength(200_000);
      garbage = undefined;
      const [vcpuBefore] = await m.vcpuHeapStatistics();
      const mainBefore = threadHeapStatistics();

      await collectStartupGarbage(m);

      const [vcpuAfter] = await m.vcpuHeapStatistics();
      const mainAfter = threadHeapStatistics();
      // The vCPU thread was collected: another full collection right after finds next to nothing
      // left (what the two statistics calls themselves allocated). Its heap need not be smaller
      // than before: a thread with a capped young generation scavenges its build's garbage as
      // it goes, and fetching `gc` keeps a small context alive.
      const [vcpuAgain] = await m.vcpuHeapStatistics({ gc: true });
      expect(vcpuBefore.usedHeapBytes).toBeGreaterThan(0);
      expect(vcpuAfter.usedHeapBytes - vcpuAgain.usedHeapBytes).toBeLessThan(512 * 1024);
      // This thread's 200,000 dropped objects are gone.
      expect(mainBefore.usedHeapBytes - mainAfter.usedHeapBytes).toBeGreaterThan(8 * MiB);

      // The guest still runs: it spins until stopped, and stops cleanly.
      const run = m.run();
      await new Promise((r) => setTimeout(r, 50));
      await m.stop();
      await expect(run).resolves.toMatchObject({ reason: 'stopped' });
    } finally {
      await m.close();
    }
  });
});
