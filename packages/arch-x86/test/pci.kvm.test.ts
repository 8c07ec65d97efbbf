/**
 * PCI on real KVM: a guest enumerates bus 0 through configuration mechanism #1 (0xCF8/0xCFC),
 * finds the PCI test device by its ids, sizes and programs its BARs, enables decode and uses the
 * device through memory and I/O BARs; a second vCPU — another thread with its own buses — uses
 * the BAR vCPU 0 programmed, moves it, and vCPU 0 then finds the device at the new address only.
 * Then INTx through KVM's in-kernel 8259: the device's interrupt reaches the IRQ its
 * interrupt-line register names, follows the command register's interrupt-disable, and drops on
 * deassert. The guest is pci-tests.S (its header is the contract; the offsets below are its
 * results).
 */
import { PCI_TEST_DEVICE_MAGIC, createMachine, pciTestDevice } from '@kvmts/core';
import { assembleGuest, exitDevice, pciHost, readPicLines, type X86PciHost } from '@kvmts/arch-x86';

const RESULTS = 0x200000;
const MAILBOX = 0x201000;
const TEST_DEVICE_SLOT = 5;
const ALL_ONES = 0xffffffff;
/** Device 5's INTA#: PIRQ (5 + 0) mod 4 = B → IRQ 10. */
const TEST_DEVICE_IRQ = 10;
const STATUS_INTERRUPT = 0x08;

describeKvm('PCI bus 0 through 0xCF8/0xCFC on real KVM', () => {
  it('the guest enumerates bus 0, finds the test device by its ids, uses working BARs programmed and moved from two vCPUs, and gets its INTx on IRQ 10', async () => {
    const guest = assembleGuest('pci-tests');
    const m = await createMachine({
      arch: 'x86_64',
      memory: '16M',
      cpus: 2,
      archOptions: { irqchip: 'kernel' },
      devices: [pciHost({ functions: [pciTestDevice({ device: TEST_DEVICE_SLOT })] }, 'pci'), exitDevice()],
      boot: {
        kind: 'flat',
        mode: 'long',
        cpl: 0,
        image: guest.bytes,
        mapBytes: 2 ** 32,
        entry: guest.symbols.get('pci_main')!,
        registers: [
          { rdi: RESULTS, rsi: MAILBOX, rip: guest.symbols.get('pci_main')! },
          { rdi: RESULTS, rsi: MAILBOX, rip: guest.symbols.get('pci_helper')! },
        ],
      },
    });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const r = m.vm.memory().view(RESULTS, 0x100);
      const u32 = (offset: number) => r.getUint32(offset, true);
      // The scan: only device 5 answered, with the test device's ids, class 0xff0000, revision 0.
      expect(u32(0x00)).toBe(1 << TEST_DEVICE_SLOT);
      expect(u32(0x04)).toBe(TEST_DEVICE_SLOT);
      expect(u32(0x08)).toBe(0x74734b56);
      expect(u32(0x0c)).toBe(0xff000000);
      expect(u32(0x20)).toBe(0); // header type 0, single function
      // Sizing: 4 KiB mem32, 32-byte I/O (16-bit I/O space), 16 KiB mem64 prefetchable.
      expect(u32(0x10)).toBe(0xfffff000);
      expect(u32(0x14)).toBe(0x0000ffe1);
      expect(u32(0x18)).toBe(0xffffc00c);
      expect(u32(0x1c)).toBe(0xffffffff);
      // vCPU 0 through the BARs it programmed.
      expect(u32(0x24)).toBe(PCI_TEST_DEVICE_MAGIC);
      expect(u32(0x28)).toBe(0x12345678);
      expect(u32(0x2c)).toBe(0x12345678);
      expect(r.getBigUint64(0x30, true)).toBe(0x1122334455667788n);
      expect(u32(0x38)).toBe(0x11223344);
      // vCPU 1's thread decodes the BAR vCPU 0 programmed, moves it, and its own bus follows.
      expect(u32(0x40)).toBe(PCI_TEST_DEVICE_MAGIC);
      expect(u32(0x44)).toBe(0x12345678);
      expect(u32(0x48)).toBe(PCI_TEST_DEVICE_MAGIC);
      expect(u32(0x4c)).toBe(ALL_ONES);
      // Back on vCPU 0: the old address is gone, the new one serves what vCPU 1 wrote.
      expect(u32(0x50)).toBe(ALL_ONES);
      expect(u32(0x54)).toBe(0xcafef00d);
      // Byte and word config reads at 0xCFE.
      expect(u32(0x58)).toBe(0); // header type byte
      expect(u32(0x5c)).toBe(0x7473); // device id
      // Memory decode off: BAR0 unmapped while the I/O BAR still answers; back on: mapped again.
      expect(u32(0x60)).toBe(ALL_ONES);
      expect(u32(0x64)).toBe(PCI_TEST_DEVICE_MAGIC);
      expect(u32(0x68)).toBe(PCI_TEST_DEVICE_MAGIC);
      expect(u32(0x6c)).toBe(0xe0200000);
      // INTx: the line register names IRQ 10; the 8259's IRR (level-triggered) follows assert,
      // interrupt-disable, re-enable, deassert and assert; status bit 3 shows the pin, masked or not.
      const irq10 = (offset: number) => (u32(offset) >>> TEST_DEVICE_IRQ) & 1;
      expect(u32(0x70)).toBe(TEST_DEVICE_IRQ);
      expect([irq10(0x74), irq10(0x7c), irq10(0x84), irq10(0x88), irq10(0x90)]).toEqual([1, 0, 1, 0, 1]);
      expect([u32(0x78) & STATUS_INTERRUPT, u32(0x80) & STATUS_INTERRUPT, u32(0x8c) & STATUS_INTERRUPT]).toEqual([STATUS_INTERRUPT, STATUS_INTERRUPT, 0]);
      // The guest left INTA# asserted: KVM's PIC holds IRQ 10 high.
      expect((readPicLines(m.vm).levels >>> TEST_DEVICE_IRQ) & 1).toBe(1);
      // Both vCPUs really took config and MMIO exits (the second is not a bystander).
      const counts = m.exitCounts();
      expect(counts[1].MMIO).toBeGreaterThanOrEqual(5);
      expect(counts[1].IO).toBeGreaterThanOrEqual(2);
      // The host sees the final decode from the main thread's instance, through shared config space.
      const host = m.device<X86PciHost>('pci').host;
      expect(host.decodedBars().map((b) => [b.index, b.kind, b.base, b.size])).toEqual([
        [0, 'mem32', 0xe0200000, 0x1000],
        [1, 'io', 0xc000, 32],
        [2, 'mem64', 0xe0100000, 0x4000],
      ]);
    } finally {
      await m.close();
    }
  });
});
