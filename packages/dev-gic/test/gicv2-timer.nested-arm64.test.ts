/**
 * Nested arm64 tier: KVM's in-kernel virtual timer with the userspace GICv2 (gic: 'none', timer:
 * 'kernel'). KVM reports the timer's output level in kvm_run (KVM_CAP_ARM_USER_IRQ); the vCPU
 * thread passes each change to the GIC model as PPI 27 (arch-arm64 gic/device-irq-levels.ts),
 * which drives the vCPU's IRQ input. The guest (scripts/nested/guest-asm/arm64/gicv2-timer.s)
 * takes three timer interrupts through GICC_IAR/EOIR, one at a time (it arms the timer 10 ms
 * ahead, the handler turns it off): two while it spins, one that wakes it from WFI.
 */
import { KvmSystemEvent, createMachine, type Machine } from '@kvmts/core';
import type { Arm64Boot, ArmV8ThreadContextData } from '@kvmts/arch-arm64';
import { Gicc, Gicd, gicV2, saveGicV2State, type GicV2Device } from '@kvmts/dev-gic';
import { guestProgram } from './support/guest-program';

describe("nested arm64: the in-kernel timer's interrupts through the userspace GICv2", () => {
  let machine: Machine<Arm64Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it('delivers three virtual-timer interrupts (PPI 27) — two to a spinning guest, one that wakes it from WFI', async () => {
    machine = await createMachine<Arm64Boot>(
      {
        arch: 'arm64',
        memory: '16M',
        cpus: 1,
        archOptions: { gic: 'none', timer: 'kernel' },
        devices: [gicV2({ cpus: 1 }, 'gic')],
        boot: { kind: 'kernel', image: guestProgram('gicv2-timer') },
      },
      { console: () => undefined },
    );
    // A guest that never gets its interrupts is stopped, so the comparison below shows how far it got.
    const watchdog = setTimeout(() => void machine?.stop(), 90_000);
    const exit = await machine.run();
    clearTimeout(watchdog);
    const core = (await machine.vcpus[0].call<ArmV8ThreadContextData>('threadContext')).core;
    expect({
      exit,
      taken: core.x23,
      firstIar: core.x19,
      otherInterrupts: core.x22,
      ctlAtFirstInterrupt: core.x24,
      unexpectedEsr: core.x26,
    }).toEqual({
      exit: { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n },
      taken: 3n,
      firstIar: 27n, // GICC_IAR: PPI 27, no source CPU field
      otherInterrupts: 0n,
      ctlAtFirstInterrupt: 0b101n, // CNTV_CTL_EL0: ENABLE, ISTATUS (condition met), IMASK clear
      unexpectedEsr: 0n,
    });
    // The three interrupts took at least three 10 ms periods of the virtual counter.
    expect(core.x21 - core.x20).toBeGreaterThanOrEqual(3n * core.x6);

    // The guest turned the timer off before powering off: KVM reported the level low, and the
    // model's PPI 27 is neither pending nor active; the guest's set-up is in the model's state.
    const gic = machine.device<GicV2Device>('gic');
    expect(gic.model.readDistributor(0, Gicd.ISPENDR, 4) & (1 << 27)).toBe(0);
    expect(gic.model.readDistributor(0, Gicd.ISACTIVER, 4) & (1 << 27)).toBe(0);
    expect(gic.model.readCpuInterface(0, Gicc.RPR, 4)).toBe(0xff);
    expect(gic.model.outputLevel(0, 'irq')).toBe(false);
    const saved = saveGicV2State(gic.model).registers;
    // Word 0 is banked (this CPU's SGIs and PPIs): SGIs 0–15 always enabled (RAO), and PPI 27.
    expect(saved.perCpu[0].GICD_ISENABLER).toEqual([0xffff | (1 << 27)]);
  });

  it('refuses the in-kernel timer on a machine with neither GIC, naming the option', async () => {
    await expect(
      createMachine<Arm64Boot>({ arch: 'arm64', memory: '16M', cpus: 1, archOptions: { gic: 'none' }, boot: { kind: 'kernel', image: guestProgram('gicv2-timer') } }),
    ).rejects.toMatchObject({ name: 'ConfigError', setting: 'archOptions.timer' });
  });
});
