/**
 * The UART's interrupt path against KVM's real in-kernel irqchip: two vCPUs, each in its own
 * thread, hammer one UART (every round raises and drops its line); when the machine stops, the
 * level KVM's PIC holds for the line equals the level the UART's final state implies. (A lock
 * released before the line is driven would let the two threads' KVM_IRQ_LINE calls land out of
 * order, leaving a stale level.)
 */
import { createMachine } from '@kvmts/core';
import { assembleGuest, exitDevice, readPicLines, uart8250, type Uart8250 } from '@kvmts/arch-x86';

const COM1 = 0x3f8;
const COM1_IRQ = 4;

describeKvm('UART interrupts through the in-kernel irqchip', () => {
  it('two vCPUs hammering one UART leave KVM\'s line at the level the final UART state implies', async () => {
    const guest = assembleGuest('long-mode-tests');
    const m = await createMachine({
      arch: 'x86_64',
      memory: '16M',
      cpus: 2,
      archOptions: { irqchip: 'kernel' },
      devices: [uart8250({ irq: COM1_IRQ }, 'com1'), exitDevice()],
      // vCPU 0 runs 2000 rounds and powers off; vCPU 1 hammers until the machine stops it.
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: guest.bytes, entry: guest.symbols.get('uart_hammer')!, registers: [{ rcx: 2000, rdx: COM1 }, { rcx: 0, rdx: COM1 }] },
    });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const counts = m.exitCounts();
      // Both threads really drove the line (3 port exits per round).
      expect(counts[0].IO).toBeGreaterThanOrEqual(3 * 2000);
      expect(counts[1].IO).toBeGreaterThan(100);
      const uart = m.device<Uart8250>('com1');
      const kvmLevel = ((readPicLines(m.vm).levels >> COM1_IRQ) & 1) === 1;
      expect(kvmLevel).toBe(uart.interruptAsserted());
    } finally {
      await m.close();
    }
  });
});
