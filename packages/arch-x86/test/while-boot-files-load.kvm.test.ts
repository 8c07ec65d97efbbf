/**
 * createMachine's whileBootFilesLoad: the caller's work once the machine is built, awaited with
 * the boot files' reads before createMachine resolves; a failure there fails createMachine and
 * leaves nothing behind (guest RAM unmapped, vCPU threads or slice timers ended).
 */
import 'reflect-metadata';
import * as native from '@kvmts/native';
import { createMachine, type Machine } from '@kvmts/core';
import { assembleGuest, exitDevice, type GuestImage } from '@kvmts/arch-x86';

let tests: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
});

const spinConfig = () => ({ arch: 'x86_64', memory: '16M', devices: [exitDevice()], boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('spin')! } }) as const;

describeKvm('createMachine whileBootFilesLoad', () => {
  it('hands the built machine to the work and resolves after it', async () => {
    let seen: Machine | undefined;
    let done = false;
    const m = await createMachine(spinConfig(), {
      whileBootFilesLoad: async (built) => {
        seen = built;
        // The vCPU is built and answers: the work may ask it.
        expect(await built.vcpus[0].call('exitCounts')).toBeDefined();
        await new Promise((r) => setTimeout(r, 20));
        done = true;
      },
    });
    try {
      expect(seen).toBe(m);
      expect(done).toBe(true);
    } finally {
      await m.close();
    }
  });

  for (const vcpuThread of ['worker', 'main'] as const) {
    it(`fails createMachine with the work's error and leaves nothing behind (vCPU on ${vcpuThread === 'main' ? 'the main thread' : 'a worker'})`, async () => {
      const mappings = native.liveMappingCount();
      const boom = new Error('settling failed');
      await expect(createMachine(spinConfig(), { vcpuThread, whileBootFilesLoad: () => Promise.reject(boom) })).rejects.toBe(boom);
      await expect(createMachine(spinConfig(), { vcpuThread, whileBootFilesLoad: () => { throw boom; } })).rejects.toBe(boom);
      expect(native.liveMappingCount()).toBe(mappings);
      expect(native.liveSliceTimerCount()).toBe(0);
    });
  }
});
