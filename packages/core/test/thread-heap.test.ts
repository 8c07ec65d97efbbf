/**
 * threadHeapStatistics: this thread's own V8 heap, optionally after a full collection, and the
 * collections V8 ran on its own (forced ones not counted). The vCPU threads answer the same
 * function through the worker's call channel (packages/arch-x86/test/vcpu-heap.kvm.test.ts).
 */
import { collectGarbage, threadHeapStatistics } from '../src';

const MiB = 1 << 20;
/** Lets the gc observer's entries (delivered asynchronously) arrive. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

describe('threadHeapStatistics', () => {
  it('reports used ≤ total bytes and at least this context', () => {
    const h = threadHeapStatistics();
    expect(h.usedHeapBytes).toBeGreaterThan(0);
    expect(h.usedHeapBytes).toBeLessThanOrEqual(h.totalHeapBytes);
    expect(h.nativeContexts).toBeGreaterThanOrEqual(1);
    expect(h.externalBytes).toBeGreaterThanOrEqual(0);
  });

  it('with gc, counts live objects only: 16 MiB dropped are gone from the collected figure', () => {
    let held: { i: number; text: string }[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `object ${i}` }));
    const holding = threadHeapStatistics({ gc: true });
    expect(held.length).toBe(200_000);
    held = undefined;
    const dropped = threadHeapStatistics({ gc: true });
    expect(holding.usedHeapBytes - dropped.usedHeapBytes).toBeGreaterThan(8 * MiB);
  });

  it('counts V8`s own scavenges, and leaves forced collections out', async () => {
    threadHeapStatistics();
    await settle();
    const before = threadHeapStatistics();
    // Short-lived garbage, far more than a young generation holds: V8 must scavenge.
    // Kept for a while (so no escape analysis removes them), then dropped.
    let batch: { i: number }[] = [];
    let made = 0;
    for (let i = 0; i < 2_000_000; i++) {
      batch.push({ i });
      made++;
      if (batch.length === 1000) batch = [];
    }
    expect(made).toBe(2_000_000);
    await settle();
    const after = threadHeapStatistics();
    expect(after.scavenges).toBeGreaterThan(before.scavenges);
    collectGarbage();
    collectGarbage();
    await settle();
    expect(threadHeapStatistics().markCompacts).toBe(after.markCompacts);
  });
});
