/**
 * close() while a checkpoint is being written waits for it: the memory image is written from
 * guest RAM on the thread pool, and unmapping RAM under it would put a damaged checkpoint in
 * place of a good one. The checkpoint then restores to the state it was taken at.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointReader, createMachine, restoreMachine } from '@kvmts/core';
import { assembleGuest, exitDevice } from '@kvmts/arch-x86';

describeKvm('closing a machine during a checkpoint', () => {
  for (const vcpuThread of ['worker', 'main'] as const) {
    it(`finishes the checkpoint first, which then restores (vCPU on ${vcpuThread === 'main' ? 'the main thread' : 'a worker'})`, async () => {
      const tests = assembleGuest('long-mode-tests');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-close-'));
      try {
        const m = await createMachine(
          { arch: 'x86_64', memory: '64M', devices: [exitDevice()], boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('spin')! } },
          { vcpuThread },
        );
        const run = m.run();
        await new Promise((r) => setTimeout(r, 20));
        await m.stop();
        await run;
        const rip = (await m.vcpus[0].call<{ regs: { rip: bigint } }>('threadContext')).regs.rip;
        const target = path.join(dir, 'ck');
        const saving = m.checkpoint(target);
        const closing = m.close();
        const manifest = await saving;
        await closing;
        // The whole image and its checksums are there: a verified open reads every stored page.
        expect(CheckpointReader.open(target).manifest.id).toBe(manifest.id);
        const r = await restoreMachine(target, { verifyMemory: true, vcpuThread });
        try {
          expect((await r.vcpus[0].call<{ regs: { rip: bigint } }>('threadContext')).regs.rip).toBe(rip);
        } finally {
          await r.close();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
