/**
 * A one-vCPU machine whose vCPU runs on the machine's own thread (`vcpuThread: 'main'`): the
 * guest's work and output are those of a worker-thread machine, the event loop keeps turning
 * while the guest spins (the slice timer), stop() ends a run, exit limits hold across slices,
 * and a checkpoint saved from one restores into another.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import * as native from '@kvmts/native';
import { ConfigError, createMachine, restoreMachine, type Machine } from '@kvmts/core';
import { assembleGuest, uart8250, type GuestImage } from '@kvmts/arch-x86';
import { spinMachine } from './support/spin-machine';
import { demoChecksumConfig } from './support/demo-machine';

let tests: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
});

const spinOnMainThread = (sliceMs?: number): Promise<Machine> => spinMachine(1, { vcpuThread: 'main', sliceMs });

describeKvm("a vCPU on the machine's thread", () => {
  it('runs the demo guest to the same output and CRC as a worker thread, on this thread', async () => {
    const data = Uint8Array.from({ length: 65536 }, (_, i) => (i * 13 + 1) & 0xff);
    const out: number[] = [];
    const m = await createMachine(demoChecksumConfig(data), { console: (b) => out.push(...b), vcpuThread: 'main' });
    try {
      expect(m.vcpus[0].onMainThread).toBe(true);
      expect(m.vcpus[0].threadId).toBe(threadId);
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const crc = zlib.crc32(data) >>> 0;
      expect(Buffer.from(out).toString()).toBe(`kvmts demo guest: crc32(65536 bytes) = 0x${crc.toString(16).padStart(8, '0')}\n`);
      expect(m.exitCounts()[0].IO).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
    expect(native.liveSliceTimerCount()).toBe(0);
  });

  it('keeps the event loop turning while the guest spins, and stop() ends the run', async () => {
    const m = await spinOnMainThread(5);
    try {
      const run = m.run();
      // Timers fire while the guest runs: each 10 ms timer within a few slices of its time.
      const ticks: number[] = [];
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          ticks.push(performance.now() - t0);
          if (ticks.length === 10) {
            clearInterval(timer);
            resolve();
          }
        }, 10);
      });
      expect(m.vcpus[0].isRunning).toBe(true);
      // Ten 10 ms timers in ~100 ms: slices of 5 ms let them run nearly on time (a loaded CI host: up to 1 s).
      expect(ticks[9]).toBeLessThan(1000);
      const counts = m.exitCounts()[0];
      // The slices ended by the timer: interrupted KVM_RUNs, each completed with a half entry.
      expect(counts.interrupted).toBeGreaterThanOrEqual(5);
      await m.stop();
      expect(await run).toEqual({ reason: 'stopped' });
      const tc = await m.vcpus[0].call<{ regs: { rip: bigint } }>('threadContext');
      expect(tc.regs.rip).toBe(BigInt(tests.symbols.get('spin')!));
    } finally {
      await m.close();
    }
  });

  it('counts an exit limit across slices', async () => {
    // uart_hammer loops on the UART's registers for ever (rcx 0): three port exits a round.
    const m = await createMachine(
      {
        arch: 'x86_64',
        memory: '16M',
        devices: [uart8250()],
        boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('uart_hammer')!, registers: { rcx: 0, rdx: 0x3f8 } },
      },
      { console: () => undefined, vcpuThread: 'main', sliceMs: 1 },
    );
    try {
      const limit = 30000;
      expect(await m.run({ maxExits: limit })).toEqual({ reason: 'exit-limit' });
      const counts = m.exitCounts()[0];
      expect(counts.IO).toBe(limit);
      // It took several slices (each ended by the timer: an interrupted KVM_RUN), and the limit held over them.
      expect(counts.interrupted).toBeGreaterThanOrEqual(3);
    } finally {
      await m.close();
    }
  });

  it('saves a checkpoint that a worker-thread machine restores, and restores one onto this thread', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-main-thread-'));
    try {
      const m = await spinOnMainThread();
      let saved: { rip: bigint; rsp: bigint };
      try {
        const run = m.run();
        await new Promise((r) => setTimeout(r, 30));
        await m.stop();
        await run;
        saved = (await m.vcpus[0].call<{ regs: { rip: bigint; rsp: bigint } }>('threadContext')).regs;
        await m.checkpoint(path.join(dir, 'a'));
      } finally {
        await m.close();
      }
      for (const vcpuThread of ['worker', 'main'] as const) {
        const r = await restoreMachine(path.join(dir, 'a'), { vcpuThread });
        try {
          expect(r.vcpus[0].onMainThread).toBe(vcpuThread === 'main');
          const regs = (await r.vcpus[0].call<{ regs: { rip: bigint; rsp: bigint } }>('threadContext')).regs;
          expect({ rip: regs.rip, rsp: regs.rsp }).toEqual({ rip: saved.rip, rsp: saved.rsp });
          const run = r.run();
          await new Promise((res) => setTimeout(res, 20));
          await r.stop();
          expect(await run).toEqual({ reason: 'stopped' });
        } finally {
          await r.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses 'main' for more than one vCPU, an unknown placement and a bad slice, naming each", async () => {
    const config = { arch: 'x86_64', memory: '16M', cpus: 2, boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: 0 } } as const;
    await expect(createMachine(config, { vcpuThread: 'main' })).rejects.toThrow(ConfigError);
    await expect(createMachine(config, { vcpuThread: 'main' })).rejects.toThrow(/vcpuThread.*2 vCPUs/);
    await expect(createMachine({ ...config, cpus: 1 }, { vcpuThread: 'elsewhere' as never })).rejects.toThrow(/vcpuThread.*'worker' or 'main'.*elsewhere/);
    await expect(createMachine({ ...config, cpus: 1 }, { vcpuThread: 'main', sliceMs: 0 })).rejects.toThrow(/sliceMs.*1–1000.*0/);
    await expect(createMachine({ ...config, cpus: 1 }, { sliceMs: 5 })).rejects.toThrow(/sliceMs.*'main' only/);
  });
});
