/**
 * Nested arm64 tier: a two-vCPU machine (worker threads, the PL011, the in-kernel vGICv3) where
 * vCPU 0 starts vCPU 1 with PSCI CPU_ON — handled by KVM — and ends the run with SYSTEM_OFF.
 */
import { KvmSystemEvent, createMachine, type Machine } from '@kvmts/core';
import { PsciReturn, pl011, type Arm64Boot, type ArmV8ThreadContextData } from '@kvmts/arch-arm64';
import { guestProgram } from './support/rig';

describe('nested arm64: a machine with two vCPUs', () => {
  let machine: Machine<Arm64Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it('brings up vCPU 1 with PSCI CPU_ON, runs it, and ends the machine run at SYSTEM_OFF', async () => {
    const output: number[] = [];
    machine = await createMachine<Arm64Boot>(
      { arch: 'arm64', memory: '16M', cpus: 2, devices: [pl011()], boot: { kind: 'kernel', image: guestProgram('psci-cpu-on') } },
      { console: (bytes) => output.push(...bytes) },
    );
    const exit = await machine.run();
    expect(exit).toEqual({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n });
    const [boot, second] = (await Promise.all(machine.vcpus.map((v) => v.call<ArmV8ThreadContextData>('threadContext')))).map((tc) => tc.core);
    expect(boot.x19).toBe(BigInt(PsciReturn.SUCCESS));
    expect(second.x20).toBe(0xc0den); // the context id CPU_ON passed
    expect(second.x21 & 0xffn).toBe(1n); // MPIDR Aff0 = 1
    expect(String.fromCharCode(...output)).toBe('1');
    expect(machine.exitCounts()[1].MMIO).toBe(1);
    expect(machine.exitCounts()[0].SYSTEM_EVENT).toBe(1);
  });
});
