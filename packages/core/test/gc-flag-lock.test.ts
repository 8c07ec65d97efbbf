/**
 * gc-flag-lock.ts: one thread at a time inside withGcFlagLock, across real threads that share
 * the lock through worker_threads' environment data (as vCPU threads started after
 * shareGcFlagLock() do); and a lock its holder never releases (a thread terminated while it held
 * it) delays a caller by the wait limit, never hangs it.
 */
import * as path from 'node:path';
import { Worker, setEnvironmentData } from 'node:worker_threads';
import { shareGcFlagLock, withGcFlagLock } from '../src/machine/gc-flag-lock';

const LOCK_MODULE = path.resolve(__dirname, '..', 'dist', 'machine', 'gc-flag-lock.js');

/** A thread that, `rounds` times, holds the lock ~2 ms while counting itself in `inside`, keeping the most it ever saw. */
function contender(shared: SharedArrayBuffer, rounds: number): Promise<void> {
  const body = `const { workerData } = require('node:worker_threads');
const { withGcFlagLock } = require(${JSON.stringify(LOCK_MODULE)});
const counts = new Int32Array(workerData.shared); // [inside, most seen inside]
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < workerData.rounds; i++) {
  withGcFlagLock(() => {
    const now = Atomics.add(counts, 0, 1) + 1;
    if (now > Atomics.load(counts, 1)) Atomics.store(counts, 1, now);
    Atomics.wait(nap, 0, 0, 2);
    Atomics.sub(counts, 0, 1);
  });
}`;
  const w = new Worker(body, { eval: true, workerData: { shared, rounds } });
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`contender exited ${code}`))));
  });
}

describe('the --expose-gc flag lock', () => {
  it('lets one thread at a time in, across threads started after it was shared', async () => {
    shareGcFlagLock();
    const shared = new SharedArrayBuffer(8);
    await Promise.all(Array.from({ length: 4 }, () => contender(shared, 25)));
    const [inside, most] = new Int32Array(shared);
    expect([inside, most]).toEqual([0, 1]);
  }, 60_000);

  it('goes ahead after its wait limit when the holder never lets go (a terminated thread), and leaves that lock as it found it', () => {
    const lock = shareGcFlagLock();
    Atomics.store(lock, 0, 1); // held by nobody who will release it
    try {
      const t0 = Date.now();
      expect(withGcFlagLock(() => 'ran')).toBe('ran');
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(1900);
      expect(waited).toBeLessThan(10_000);
      expect(Atomics.load(lock, 0)).toBe(1); // not released by a caller that never held it
    } finally {
      Atomics.store(lock, 0, 0);
      setEnvironmentData('kvmts.gcFlagLock', undefined);
    }
  }, 30_000);
});
