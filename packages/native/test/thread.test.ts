import { Worker } from 'node:worker_threads';
import { constants as osConstants } from 'node:os';

import { constants, currentThread, gettid, installKickHandler, kickThread, mmap } from '../src';
import { ensureDistBuilt } from './support/dist';

interface WorkerReport {
  signal: number;
  thread: bigint;
  tid: number;
  pageSize: number;
  mappingByte: number;
}

function runWorker(workerData: object): Promise<{ report: WorkerReport; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(`${__dirname}/fixtures/thread-worker.js`, { workerData });
    let report: WorkerReport | undefined;
    worker.on('message', (m: WorkerReport) => (report = m));
    worker.on('error', reject);
    worker.on('exit', (exitCode) => (report ? resolve({ report, exitCode }) : reject(new TypeError('no report'))));
  });
}

describe('threads and the kick signal', () => {
  let nativePath: string;
  beforeAll(() => {
    nativePath = ensureDistBuilt();
  });

  it('installKickHandler is idempotent and returns SIGRTMIN+4', () => {
    const signal = installKickHandler();
    expect(installKickHandler()).toBe(signal);
    // glibc reserves 32 and 33: SIGRTMIN is 34.
    expect(signal).toBe(34 + 4);
  });

  it('gettid of the main thread is the pid; currentThread is stable per thread', () => {
    expect(gettid()).toBe(process.pid);
    expect(currentThread()).toBe(currentThread());
    expect(typeof currentThread()).toBe('bigint');
  });

  it('kicking the current thread is delivered to the no-op handler and returns 0', () => {
    installKickHandler();
    expect(kickThread(currentThread())).toBe(0);
  });

  it('the addon loads in a worker_thread (context-aware), shares mappings, and a gone thread gives ESRCH', async () => {
    const m = mmap(4096, constants.PROT_READ | constants.PROT_WRITE, constants.MAP_SHARED | constants.MAP_ANONYMOUS);
    try {
      new Uint8Array(m.view())[0] = 0x42;
      const { report, exitCode } = await runWorker({ nativePath, mappingId: m.id });
      expect(exitCode).toBe(0);
      expect(report.signal).toBe(installKickHandler());
      expect(report.tid).not.toBe(process.pid);
      expect(report.thread).not.toBe(currentThread());
      expect(report.pageSize).toBe(4096);
      expect(report.mappingByte).toBe(0x42);
      expect(kickThread(report.thread)).toBe(-osConstants.errno.ESRCH);
    } finally {
      m.unmap();
    }
  });

  it('kickThread of a handle no thread registered gives ESRCH', () => {
    expect(kickThread(12345n)).toBe(-osConstants.errno.ESRCH);
  });
});
