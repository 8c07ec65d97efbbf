/**
 * Nested arm64 tier: the userspace GICv2 on a real arm64 KVM with no in-kernel GIC
 * (gic: 'none', timer: 'none'). The guest (scripts/nested/guest-asm/arm64/gicv2-irq.s) programs
 * the distributor and CPU interface through MMIO exits, and takes an SPI the host raises, an SGI
 * it sends itself and the PL011's SPI — each delivered to the vCPU with KVM_IRQ_LINE (CPU type)
 * and acknowledged through GICC_IAR / completed through GICC_EOIR.
 */
import { KvmSystemEvent, createMachine, type Machine } from '@kvmts/core';
import { pl011, type Arm64Boot, type ArmV8ThreadContextData, type Pl011 } from '@kvmts/arch-arm64';
import { Gicc, Gicd, gicV2, saveGicV2State, type GicV2Device } from '@kvmts/dev-gic';
import { guestProgram } from './support/guest-program';

describe('nested arm64: the userspace GICv2', () => {
  let machine: Machine<Arm64Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it('delivers a host-raised SPI, a self-sent SGI and the PL011’s SPI to a guest that acknowledges and completes each', async () => {
    const printed: string[] = [];
    const onConsole = (bytes: Uint8Array): void => {
      for (const b of bytes) {
        const ch = String.fromCharCode(b);
        printed.push(ch);
        // The guest is ready for SPI 40 (edge-triggered: a pulse on its line latches it).
        if (ch === 'R') {
          const gic = machine!.device<GicV2Device>('gic');
          gic.setLevel(40, true);
          gic.setLevel(40, false);
        }
        // The guest waits for the UART's receive interrupt.
        if (ch === 'U') machine!.device<Pl011>('uart').pushInput(Uint8Array.of(0x78));
      }
    };
    machine = await createMachine<Arm64Boot>(
      {
        arch: 'arm64',
        memory: '16M',
        cpus: 1,
        archOptions: { gic: 'none', timer: 'none' },
        devices: [gicV2({ cpus: 1 }, 'gic'), pl011({}, 'uart')],
        boot: { kind: 'kernel', image: guestProgram('gicv2-irq') },
      },
      { console: onConsole },
    );
    // A guest stuck waiting for an interrupt is stopped, so the comparison below shows how far it got.
    const watchdog = setTimeout(() => void machine?.stop(), 90_000);
    const exit = await machine.run();
    clearTimeout(watchdog);
    const core = (await machine.vcpus[0].call<ArmV8ThreadContextData>('threadContext')).core;
    expect({
      exit,
      printed: printed.join(''),
      taken: core.x23,
      iar: [core.x19, core.x20, core.x21],
      received: core.x22 & 0xffn,
      typer: core.x24,
      itargetsr0: core.x25,
      unexpectedEsr: core.x26,
    }).toEqual({
      exit: { reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n },
      printed: 'R\nU\n',
      taken: 3n,
      // GICC_IAR values: SPI 40; SGI 5 from CPU 0 (the source CPU is in bits 12:10); the PL011's SPI 33.
      iar: [40n, 5n, 33n],
      received: 0x78n, // the byte the handler read from the UART
      typer: 0x3n, // GICD_TYPER: 128 INTIDs, one CPU interface
      itargetsr0: 0n, // RAZ on a one-CPU GIC
      unexpectedEsr: 0n, // no unexpected exception
    });

    // Everything completed: nothing active, the running priority idle, the guest's set-up in place.
    const gic = machine.device<GicV2Device>('gic');
    expect(gic.model.readDistributor(0, Gicd.ISACTIVER + 4, 4)).toBe(0);
    expect(gic.model.readCpuInterface(0, Gicc.RPR, 4)).toBe(0xff);
    expect(gic.model.outputLevel(0, 'irq')).toBe(false);
    const saved = saveGicV2State(gic.model).registers;
    expect(saved.global.GICD_ISENABLER[0]).toBe((1 << 1) | (1 << 8));
    expect(saved.global.GICD_IPRIORITYR[0]).toBe(0x0000_9000); // INTID 33's byte; 40 is in the next word
    expect(saved.global.GICD_IPRIORITYR[2]).toBe(0x0000_00a0);
    expect(saved.perCpu[0].GICC_PMR).toEqual([0xf0]);
    expect(machine.exitCounts()[0].MMIO).toBeGreaterThan(20);
  });
});
