/**
 * The boot devices Linux probes, driven by a real guest on KVM (the `pc-devices-tests` guest):
 * it reads the CMOS clock, status registers and memory-size bytes, passes the i8042 self-test,
 * and its `reboot=k` (i8042 command 0xFE) — or port 0x92's fast reset — ends the run as a
 * system reset. And the PIT's ticks reach the IOAPIC pin archOptions.gsiRouting says (2 on a
 * PC, as the MP table's default routing describes; 0 with KVM's own routes).
 */
import { Stop, createMachine, type Machine } from '@kvmts/core';
import { assembleGuest, cmosRtc, exitDevice, hostRtcClock, i8042, readPicLines, systemControlPort, type X86Boot } from '@kvmts/arch-x86';

const OUT = 0x100000;
const guest = assembleGuest('pc-devices-tests');

async function machine(entry: string, gsiRouting: 'kvm' | 'pc' = 'kvm', registers: Record<string, number> = {}): Promise<Machine<X86Boot>> {
  return createMachine({
    arch: 'x86_64',
    memory: '32M',
    archOptions: { irqchip: 'kernel', gsiRouting },
    devices: [cmosRtc({ memory: '32M', cpus: 1 }), i8042({ irq: 1, auxIrq: 12 }), systemControlPort(), exitDevice()],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get(entry)!, mapBytes: 2 ** 32, registers: { rdi: OUT, ...registers } },
  });
}

const bcd = (b: number): number => (b >> 4) * 10 + (b & 0x0f);

describeKvm('PC boot devices on real KVM', () => {
  it('a guest reads the CMOS clock (the host time), status and memory bytes, passes the i8042 self-test, and reboot=k ends the run as a reset', async () => {
    const m = await machine('cmos_then_reset');
    try {
      // The host time as the RTC reads it (the process's monotonic clock from its start, for
      // sub-millisecond UIP timing): Date.now() moves with the wall clock, which a host may step
      // while a long-lived test process runs (seen once: 9 s).
      const before = hostRtcClock();
      const exit = await m.run();
      const after = hostRtcClock();
      expect(exit).toEqual(Stop.systemReset);
      const b = m.vm.memory().read(OUT, 35);
      const [sec, min, hour, dow, day, month, year, century, a, statusB, d] = b;
      const guestMs = Date.UTC(bcd(century) * 100 + bcd(year), bcd(month) - 1, bcd(day), bcd(hour), bcd(min), bcd(sec));
      expect(guestMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
      expect(guestMs).toBeLessThanOrEqual(after);
      expect(bcd(dow)).toBe(new Date(guestMs).getUTCDay() + 1);
      expect([a & 0x7f, statusB, d]).toEqual([0x26, 0x02, 0x80]);
      // 32 MiB: base 640 KiB, extended 31 MiB = 0x7C00 KiB (twice), 16 MiB above 16 MiB = 0x0100 × 64 KiB, none above 4 GiB, 1 CPU.
      expect([...b.subarray(11, 23)]).toEqual([0x80, 0x02, 0x00, 0x7c, 0x00, 0x7c, 0x00, 0x01, 0, 0, 0, 0]);
      // i8042: self-test 0x55, command byte 0x05, then status SYS | CMD | UNLOCKED with the buffer read empty.
      expect([...b.subarray(32, 35)]).toEqual([0x55, 0x05, 0x1c]);
      // Keyboard output raised IRQ 1 in KVM's PIC while it waited, and reading it lowered the line.
      expect((readPicLines(m.vm).levels >> 1) & 1).toBe(0);
    } finally {
      await m.close();
    }
  });

  it.each([
    ['pc', 2],
    ['kvm', 0],
  ] as const)("gsiRouting '%s': the PIT's ticks reach IOAPIC pin %d and no other", async (routing, pin) => {
    const ticks = 20;
    const m = await machine('pit_ioapic', routing, { rdx: ticks });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const counts = new DataView(m.vm.memory().read(OUT, 8).buffer);
      const [pin2, pin0] = [counts.getUint32(0, true), counts.getUint32(4, true)];
      expect(pin2 + pin0).toBeGreaterThanOrEqual(ticks);
      expect(pin === 2 ? pin0 : pin2).toBe(0);
    } finally {
      await m.close();
    }
  });

  it("port 0x92's bit 0 ends the run as a reset; the port read 0 before", async () => {
    const m = await machine('port92_reset');
    try {
      expect(await m.run()).toEqual(Stop.systemReset);
      expect(m.vm.memory().read(OUT, 1)[0]).toBe(0);
    } finally {
      await m.close();
    }
  });
});
