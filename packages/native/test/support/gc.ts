import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** A real full GC, even when Node was started without --expose-gc. */
export function forceGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/**
 * Collect, then wait until the C heap's bytes in use stop moving (two reads 20 ms apart within
 * 64 KiB): V8 frees dead backing stores off-thread after a collection returns, and a test that
 * counts its own allocations would see them leave meanwhile.
 */
export async function settledHeap(inUseBytes: () => number): Promise<void> {
  forceGc();
  let last = inUseBytes();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = inUseBytes();
    if (Math.abs(now - last) < 64 * 1024) return;
    last = now;
  }
}
