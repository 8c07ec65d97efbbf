/**
 * The ACPI MADT (firmware/madt.ts) against golden bytes written out by hand from the ACPI 6.4
 * tables (§5.2.12: header, Processor Local APIC, I/O APIC, Interrupt Source Override, Local APIC
 * NMI), a small reader that walks the structures as Linux's acpi_parse_madt does, the MADT's place
 * in the whole table set (RSDT and XSDT list it after the FADT), and its agreement with the MP
 * table: both must describe the same processors, IOAPIC and ISA wiring (pc-wiring.ts).
 */
import { ConfigError } from '@kvmts/core';
import { ACPI_TABLE_AREA, acpiTablesBytes, buildAcpiTables, buildMadt, buildMpTable, madtBytes, writeAcpiTables, type IsaRouting } from '../src/firmware';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sum8 = (b: Uint8Array): number => b.reduce((s, x) => (s + x) & 0xff, 0);
const u32 = (n: number) => hex(Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]));

interface Walked {
  lapics: { uid: number; apicId: number; enabled: boolean }[];
  ioapics: { id: number; address: number; gsiBase: number }[];
  overrides: { bus: number; irq: number; gsi: number; flags: number }[];
  nmis: { uid: number; flags: number; lint: number }[];
}

/** Walks the structures after the 44-byte fixed part by type and length, as a kernel does. */
function walk(madt: Uint8Array): Walked {
  const v = new DataView(madt.buffer, madt.byteOffset, madt.length);
  const out: Walked = { lapics: [], ioapics: [], overrides: [], nmis: [] };
  for (let at = 44; at < madt.length; ) {
    const [type, length] = [madt[at], madt[at + 1]];
    expect(length).toBeGreaterThan(1);
    if (type === 0) out.lapics.push({ uid: madt[at + 2], apicId: madt[at + 3], enabled: (v.getUint32(at + 4, true) & 1) === 1 });
    else if (type === 1) out.ioapics.push({ id: madt[at + 2], address: v.getUint32(at + 4, true), gsiBase: v.getUint32(at + 8, true) });
    else if (type === 2) out.overrides.push({ bus: madt[at + 2], irq: madt[at + 3], gsi: v.getUint32(at + 4, true), flags: v.getUint16(at + 8, true) });
    else if (type === 4) out.nmis.push({ uid: madt[at + 2], flags: v.getUint16(at + 3, true), lint: madt[at + 5] });
    else throw new Error(`unexpected MADT structure type ${type}`);
    at += length;
    expect(at).toBeLessThanOrEqual(madt.length);
  }
  return out;
}

describe('ACPI MADT', () => {
  it('two CPUs, PC routing, SCI 9: golden bytes', () => {
    const madt = buildMadt({ cpus: 2, ioapicId: 2, isaRouting: 'pc', sciIrq: 9 });
    expect(madt.length).toBe(98);
    expect(madtBytes({ cpus: 2, ioapicId: 2, isaRouting: 'pc', sciIrq: 9 })).toBe(98);
    const golden =
      // header: "APIC", length 98, revision 5, checksum, OEM "KVMTS ", table "KVMTSX86", OEM rev 1, creator "KVMT" rev 1
      '41504943' + u32(98) + '05' + hex(madt.subarray(9, 10)) + '4b564d545320' + '4b564d5453583836' + u32(1) + '4b564d54' + u32(1) +
      // LAPIC at 0xFEE00000, flags PCAT_COMPAT
      '0000e0fe' + '01000000' +
      // Processor Local APIC: UID 0, APIC id 0, enabled; UID 1, APIC id 1, enabled
      '0008' + '00' + '00' + '01000000' + '0008' + '01' + '01' + '01000000' +
      // I/O APIC: id 2, reserved, at 0xFEC00000, GSI base 0
      '010c' + '02' + '00' + '0000c0fe' + '00000000' +
      // Interrupt Source Override: ISA IRQ 0 → GSI 2, conforming; ISA IRQ 9 (SCI) → GSI 9, active high, level (0b1101)
      '020a' + '00' + '00' + '02000000' + '0000' + '020a' + '00' + '09' + '09000000' + '0d00' +
      // Local APIC NMI: every processor, conforming, LINT1
      '0406' + 'ff' + '0000' + '01';
    expect(hex(madt)).toBe(golden);
    expect(sum8(madt)).toBe(0);
  });

  it('identity routing: no override but the SCI’s; one enabled Local APIC per vCPU with APIC id = vCPU index', () => {
    const madt = buildMadt({ cpus: 3, ioapicId: 3, isaRouting: 'identity', sciIrq: 9 });
    expect(madt.length).toBe(44 + 3 * 8 + 12 + 10 + 6);
    const w = walk(madt);
    expect(w.lapics).toEqual([0, 1, 2].map((n) => ({ uid: n, apicId: n, enabled: true })));
    expect(w.overrides).toEqual([{ bus: 0, irq: 9, gsi: 9, flags: 0xd }]);
    expect(sum8(madt)).toBe(0);
  });

  it.each<[number, IsaRouting]>([[1, 'pc'], [2, 'pc'], [2, 'identity'], [64, 'pc'], [254, 'identity']])(
    '%i CPUs, %s routing: says what the MP table says (processors, IOAPIC, ISA pins, LINT1 NMI)',
    (cpus, isaRouting) => {
      const madt = walk(buildMadt({ cpus, ioapicId: cpus, isaRouting, sciIrq: 9 }));
      const mp = buildMpTable({ cpus, isaRouting }).configTable.bytes;
      // The MP table's entries after its 44-byte header: processors (20 bytes), then 8-byte entries.
      const mpProcessors = Array.from({ length: cpus }, (_, i) => mp[44 + 20 * i + 1]);
      expect(madt.lapics.map((l) => l.apicId)).toEqual(mpProcessors);
      let at = 44 + 20 * cpus + 8; // past the processors and the bus
      expect(madt.ioapics).toEqual([{ id: mp[at + 1], address: 0xfec00000, gsiBase: 0 }]);
      at += 8;
      // ACPI: IRQ n is on GSI n unless overridden. Every MP I/O interrupt entry must land on the same pin.
      const pinOf = (irq: number) => madt.overrides.find((o) => o.irq === irq)?.gsi ?? irq;
      const mpIo: [number, number][] = [];
      while (mp[at] === 3) {
        mpIo.push([mp[at + 5], mp[at + 7]]);
        at += 8;
      }
      expect(mpIo.length).toBe(isaRouting === 'pc' ? 15 : 16);
      for (const [irq, pin] of mpIo) expect([irq, pinOf(irq)]).toEqual([irq, pin]);
      // The MP table's NMI entry: every LAPIC (0xFF), LINT1.
      expect([mp[at + 8 + 6], mp[at + 8 + 7]]).toEqual([0xff, 1]);
      expect(madt.nmis).toEqual([{ uid: 0xff, flags: 0, lint: 1 }]);
    },
  );
});

describe('ACPI tables with a MADT', () => {
  const tables = buildAcpiTables({ pmBase: 0x600, interrupts: { cpus: 2 } });
  const byName = Object.fromEntries(tables.placements.map((p) => [p.what, p]));
  const view = (what: string) => new DataView(byName[what].bytes.buffer, byName[what].bytes.byteOffset, byName[what].bytes.length);

  it('places the MADT after the DSDT, the RSDT and XSDT grown by one entry each (golden addresses)', () => {
    expect(tables.placements.map((p) => [p.what, p.gpa, p.bytes.length])).toEqual([
      ['RSDP', 0xe0000, 36],
      ['RSDT', 0xe0030, 44],
      ['XSDT', 0xe0060, 52],
      ['FADT', 0xe00a0, 276],
      ['FACS', 0xe01c0, 64],
      ['DSDT', 0xe0200, 51],
      ['MADT', 0xe0240, 98],
    ]);
    expect(acpiTablesBytes({ cpus: 2, ioapicId: 2, isaRouting: 'pc', sciIrq: 9 })).toBe(0x240 + 98);
    expect(view('RSDP').getUint32(16, true)).toBe(0xe0030);
    expect(view('RSDP').getBigUint64(24, true)).toBe(0xe0060n);
  });

  it('lists the FADT then the MADT in the RSDT (32-bit) and the XSDT (64-bit); every checksum holds', () => {
    expect([view('RSDT').getUint32(36, true), view('RSDT').getUint32(40, true)]).toEqual([0xe00a0, 0xe0240]);
    expect([view('XSDT').getBigUint64(36, true), view('XSDT').getBigUint64(44, true)]).toEqual([0xe00a0n, 0xe0240n]);
    for (const what of ['RSDT', 'XSDT', 'FADT', 'DSDT', 'MADT']) expect(sum8(byName[what].bytes)).toBe(0);
    expect(sum8(byName.RSDP.bytes.subarray(0, 20))).toBe(0);
    expect(sum8(byName.RSDP.bytes)).toBe(0);
    // The FADT points at the FACS and DSDT where they now are.
    expect([view('FADT').getUint32(36, true), view('FADT').getUint32(40, true)]).toEqual([0xe01c0, 0xe0200]);
  });

  it('the MADT is the builder’s for the same wiring (IOAPIC id defaults to the CPU count, PC routing, SCI from the FADT)', () => {
    expect(hex(byName.MADT.bytes)).toBe(hex(buildMadt({ cpus: 2, ioapicId: 2, isaRouting: 'pc', sciIrq: 9 })));
    const custom = buildAcpiTables({ pmBase: 0x600, sciIrq: 10, interrupts: { cpus: 4, ioapicId: 8, isaRouting: 'identity' } });
    const w = walk(custom.placements.find((p) => p.what === 'MADT')!.bytes);
    expect(w.ioapics[0].id).toBe(8);
    expect(w.overrides).toEqual([{ bus: 0, irq: 10, gsi: 10, flags: 0xd }]);
    expect(w.lapics.length).toBe(4);
  });

  it('writes every table, the MADT included, where it says', () => {
    const writes: [number, number][] = [];
    const t = writeAcpiTables({ write: (gpa: number, bytes: Uint8Array) => void writes.push([gpa, bytes.length]) }, { pmBase: 0x600, interrupts: { cpus: 8 } });
    expect(writes).toEqual(t.placements.map((p) => [p.gpa, p.bytes.length]));
    expect(writes.at(-1)).toEqual([0xe0240, 44 + 8 * 8 + 12 + 20 + 6]);
  });

  it('fits 254 CPUs inside the table area', () => {
    const t = buildAcpiTables({ pmBase: 0x600, interrupts: { cpus: 254 } });
    const last = t.placements.at(-1)!;
    expect(last.gpa + last.bytes.length).toBeLessThanOrEqual(ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size);
  });

  it('refuses bad wiring with a ConfigError naming the option', () => {
    const bad = (o: object, what: RegExp) => {
      expect(() => buildAcpiTables({ pmBase: 0x600, ...o } as never)).toThrow(ConfigError);
      expect(() => buildAcpiTables({ pmBase: 0x600, ...o } as never)).toThrow(what);
    };
    bad({ interrupts: { cpus: 0 } }, /acpiTables\.interrupts\.cpus.*\[1, 254\].*got 0/);
    bad({ interrupts: { cpus: 255 } }, /acpiTables\.interrupts\.cpus/);
    bad({ interrupts: { cpus: 2, ioapicId: 1 } }, /acpiTables\.interrupts\.ioapicId.*0–1/);
    bad({ interrupts: { cpus: 2, isaRouting: 'apic' } }, /acpiTables\.interrupts\.isaRouting/);
    bad({ interrupts: null }, /acpiTables\.interrupts.*must be an object/);
    // The SCI needs its own pin: not the PIT's IRQ 0, not the 'pc' routing's unwired cascade IRQ 2.
    bad({ sciIrq: 2, interrupts: { cpus: 1 } }, /acpiTables\.sciIrq.*'pc'.*got 2/);
    bad({ sciIrq: 0, interrupts: { cpus: 1, isaRouting: 'identity' } }, /acpiTables\.sciIrq/);
    // Without a MADT the SCI is only the FADT's number, as before.
    expect(() => buildAcpiTables({ pmBase: 0x600, sciIrq: 2 })).not.toThrow();
  });
});
