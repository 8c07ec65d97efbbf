/**
 * Nested arm64 tier: CPU switching through core's contract (machine.cpu(i), cpu/switching.ts) is
 * not x86's alone. The checkpoint guest (scripts/nested/guest-asm/arm64/checkpoint.s) runs to
 * its half-way wait, its vCPU is drained and switched out, and the vCPU of a fresh machine in
 * the same process takes the thread over — registers read back equal those handed over, the
 * memory comes along — and finishes with the uninterrupted result.
 */
import { KvmSystemEvent, LifecycleError, createMachine, type Machine, type MachineConfig } from '@kvmts/core';
import { ARM64_LAYOUT, type Arm64Boot, type ArmV8ThreadContextData } from '@kvmts/arch-arm64';
import { createHash } from 'node:crypto';
import { guestProgram } from './support/rig';

const RAM = 16 * 1024 * 1024;
// The guest's layout (as in checkpoint.nested-arm64.test.ts).
const BUFFER = 0x4010_0000;
const LENGTH = 0x8000;
const RESULTS = BUFFER + LENGTH;
const ROUNDS = 16;
const GO = RESULTS + 24;
const SLOW = 600_000;
const quiet = { console: () => undefined };
const shutdown = { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function config(): MachineConfig<Arm64Boot> {
  return { arch: 'arm64', memory: RAM, cpus: 1, archOptions: { gic: 'none', timer: 'none' }, boot: { kind: 'kernel', image: guestProgram('checkpoint') } };
}

/** x10 and v0 folded, and the buffer: what the computation produced (the recorded counters differ between runs). */
const resultOf = (m: Machine) => ({
  x: m.memory.view(RESULTS, 8).getBigUint64(0, true),
  v: m.memory.view(RESULTS + 8, 8).getBigUint64(0, true),
  buffer: createHash('sha256').update(m.memory.bytes(BUFFER, LENGTH)).digest('hex'),
});
const ramSha256 = (m: Machine): string => createHash('sha256').update(m.memory.bytes(ARM64_LAYOUT.ramBase, RAM)).digest('hex');

describe('nested arm64: CPU switching between machines', () => {
  let machines: Machine[] = [];
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.close()));
    machines = [];
  });
  async function machine(): Promise<Machine> {
    const m = await createMachine(config(), quiet);
    machines.push(m);
    return m;
  }

  it(
    'drained in its half-way wait and switched out, the thread is taken over by a fresh machine\'s vCPU and finishes with the uninterrupted result',
    async () => {
      const reference = await machine();
      reference.memory.view(GO, 8).setBigUint64(0, 1n, true); // uninterrupted: the guest never waits
      expect(await reference.run()).toEqual(shutdown);
      const expected = resultOf(reference);

      const a = await machine();
      const running = a.run();
      const deadline = Date.now() + 120_000;
      // The guest records the counter of round ROUNDS / 2 just before it starts waiting.
      while (a.memory.view(RESULTS + 32 + 8 * (ROUNDS / 2 + 1), 8).getBigUint64(0, true) === 0n) {
        if (Date.now() > deadline) throw new Error('the guest did not reach its half-way wait');
        await sleep(10);
      }
      await sleep(100);
      const kvmA = a.cpu(0);
      await kvmA.drain(); // kicks the running vCPU out of KVM_RUN
      expect(await running).toEqual({ reason: 'stopped' });
      const atStop = await a.vcpus[0].call<ArmV8ThreadContextData>('threadContext');
      expect(atStop.core.x11).toBe(BigInt(ROUNDS / 2 + 1)); // really mid-way
      await kvmA.switchOut();
      await expect(a.run()).rejects.toThrow(LifecycleError);

      const b = await machine();
      const kvmB = b.cpu(0);
      await kvmB.takeOverFrom(kvmA);
      const read = await b.vcpus[0].call<ArmV8ThreadContextData>('threadContext');
      expect(read.core).toEqual(atStop.core);
      expect(read.fp).toEqual(atStop.fp);
      expect(ramSha256(b)).toBe(ramSha256(a));
      b.memory.view(GO, 8).setBigUint64(0, 1n, true);
      expect(await b.run()).toEqual(shutdown);
      expect(resultOf(b)).toEqual(expected);
    },
    SLOW,
  );
});
