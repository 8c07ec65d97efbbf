/**
 * SharedLock across real threads. The workers run the compiled lock (packages/core/dist), so
 * `npm run build` must have run — as it has before any test tier.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { defineSharedLayout } from '@kvmts/core';

const DIST_LAYOUT = path.resolve(__dirname, '../dist/devices/shared-layout.js');

/** Both sides build the layout from this one table. */
const FIELDS = { lock: 'lock', counter: 'u32', held: 'atomic-u32', waiterTid: 'atomic-u32' } as const;
const layout = defineSharedLayout({ name: 'lock-test', version: 1, fields: FIELDS });

/** Worker prologue: the compiled layout module, the same table, the shared buffer bound. */
const PROLOGUE = `
  const { workerData, parentPort } = require('node:worker_threads');
  const { defineSharedLayout } = require(${JSON.stringify(DIST_LAYOUT)});
  const layout = defineSharedLayout({ name: 'lock-test', version: 1, fields: ${JSON.stringify(FIELDS)} });
  const s = layout.bind(workerData.shared);
  const words = new Int32Array(workerData.shared);
  const heldIndex = layout.fields.held.offset / 4;
  const waiterTidIndex = layout.fields.waiterTid.offset / 4;
`;

/** Runs `body` (after the prologue) in a worker; resolves with its one message once the thread is gone. */
function runWorker(body: string, workerData: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(PROLOGUE + body, { eval: true, workerData });
    let message: unknown;
    worker.once('message', (m) => (message = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve(message) : reject(new Error(`worker exited with code ${code}`))));
  });
}

beforeAll(() => {
  expect(fs.existsSync(DIST_LAYOUT) ? 'built' : `missing ${DIST_LAYOUT}: run npm run build`).toBe('built');
});

describe('SharedLock across worker threads', () => {
  it('makes a non-atomic read-modify-write exact: N workers × M increments give N×M', async () => {
    const workers = 4;
    const increments = 20_000;
    const shared = new SharedArrayBuffer(layout.byteLength);
    // Each worker increments the plain (non-atomic) counter under the lock, once everyone is ready.
    const body = `
      Atomics.add(words, heldIndex, 1);
      while (Atomics.load(words, heldIndex) < workerData.workers) {}
      for (let i = 0; i < workerData.increments; i++) {
        s.lock.acquire();
        const value = s.counter;
        s.counter = value + 1;
        s.lock.release();
      }
      parentPort.postMessage('done');
    `;
    await Promise.all(Array.from({ length: workers }, () => runWorker(body, { shared, workers, increments })));
    expect(layout.bind(shared).counter).toBe(workers * increments);
    expect(Atomics.load(new Int32Array(shared), 0)).toBe(0); // left unlocked
  });

  // The kernel's count of nanoseconds a thread spent on a CPU; exact for a thread that is asleep.
  const itWithSchedstat = fs.existsSync('/proc/thread-self/schedstat') ? it : it.skip;

  itWithSchedstat('puts a waiter to sleep while the holder keeps the lock for 50 ms', async () => {
    const shared = new SharedArrayBuffer(layout.byteLength);
    // The holder keeps the lock 50 ms after the waiter announced itself, and meanwhile reads how
    // much CPU the waiter's thread uses: a spinning waiter would use all of it.
    const holder = runWorker(
      `
      const fs = require('node:fs');
      const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      s.lock.acquire();
      Atomics.store(words, heldIndex, 1);
      Atomics.notify(words, heldIndex);
      Atomics.wait(words, waiterTidIndex, 0);
      const schedstat = '/proc/' + process.pid + '/task/' + s.waiterTid + '/schedstat';
      const cpuNs = () => Number(fs.readFileSync(schedstat, 'utf8').split(' ')[0]);
      sleep(5); // the waiter's bounded spin is over well before this
      const before = cpuNs();
      sleep(45);
      const cpuMs = (cpuNs() - before) / 1e6;
      s.lock.release();
      parentPort.postMessage(cpuMs);
    `,
      { shared },
    );
    const waiter = runWorker(
      `
      const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
      Atomics.wait(words, heldIndex, 0);
      const start = process.hrtime.bigint();
      s.waiterTid = tid;
      Atomics.notify(words, waiterTidIndex);
      s.lock.acquire();
      const waitedMs = Number(process.hrtime.bigint() - start) / 1e6;
      s.lock.release();
      parentPort.postMessage(waitedMs);
    `,
      { shared },
    );
    const [cpuWhileHeldMs, waitedMs] = (await Promise.all([holder, waiter])) as [number, number];
    expect(waitedMs).toBeGreaterThanOrEqual(50);
    expect(cpuWhileHeldMs).toBeLessThan(2);
  });
});
