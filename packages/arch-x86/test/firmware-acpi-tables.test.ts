/**
 * The minimal ACPI tables (firmware/acpi-tables.ts), checked field by field against the ACPI 6.4
 * layouts the way a kernel reads them: the RSDP found by signature, both checksums, the RSDT and
 * XSDT naming the FADT, the FADT naming the FACS, the DSDT and the PM1a blocks, and the DSDT's
 * AML declaring \_S5.
 */
import { ConfigError } from '@kvmts/core';
import { ACPI_FADT, ACPI_TABLE_AREA, acpiTablesBytes, buildAcpiTables, writeAcpiTables, S5_AML } from '../src/firmware';

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);
const text = (b: Uint8Array, at: number, n: number) => Buffer.from(b.subarray(at, at + n)).toString('latin1');

describe('ACPI tables for power-off', () => {
  const tables = buildAcpiTables({ pmBase: 0x600 });
  const byName = Object.fromEntries(tables.placements.map((p) => [p.what, p]));
  const view = (what: string) => new DataView(byName[what].bytes.buffer, byName[what].bytes.byteOffset, byName[what].bytes.length);

  it('places RSDP, RSDT, XSDT, FADT, FACS and DSDT from 0xE0000 without overlap, the FACS 64-byte aligned', () => {
    expect(tables.placements.map((p) => [p.what, p.gpa, p.bytes.length])).toEqual([
      ['RSDP', 0xe0000, 36],
      ['RSDT', 0xe0030, 40],
      ['XSDT', 0xe0060, 44],
      ['FADT', 0xe0090, 276],
      ['FACS', 0xe01c0, 64],
      ['DSDT', 0xe0200, 36 + 15],
    ]);
    expect(acpiTablesBytes()).toBe(0x200 + 51);
    for (let i = 1; i < tables.placements.length; i++) {
      const prev = tables.placements[i - 1];
      expect(tables.placements[i].gpa).toBeGreaterThanOrEqual(prev.gpa + prev.bytes.length);
    }
  });

  it('has an ACPI 2.0 RSDP whose 20-byte and 36-byte checksums hold and which names the RSDT and XSDT', () => {
    const r = byName.RSDP.bytes;
    expect(text(r, 0, 8)).toBe('RSD PTR ');
    expect(sum(r.subarray(0, 20))).toBe(0);
    expect(sum(r)).toBe(0);
    expect(r[15]).toBe(2);
    expect(view('RSDP').getUint32(16, true)).toBe(0xe0030);
    expect(view('RSDP').getUint32(20, true)).toBe(36);
    expect(view('RSDP').getBigUint64(24, true)).toBe(0xe0060n);
  });

  it('gives every table a header with its signature and length and a zero byte sum; RSDT and XSDT list only the FADT', () => {
    for (const [what, sig] of [['RSDT', 'RSDT'], ['XSDT', 'XSDT'], ['FADT', 'FACP'], ['DSDT', 'DSDT']]) {
      const b = byName[what].bytes;
      expect(text(b, 0, 4)).toBe(sig);
      expect(view(what).getUint32(4, true)).toBe(b.length);
      expect(sum(b)).toBe(0);
      expect(text(b, 10, 6)).toBe('KVMTS ');
    }
    expect(view('RSDT').getUint32(36, true)).toBe(0xe0090);
    expect(view('XSDT').getBigUint64(36, true)).toBe(0xe0090n);
  });

  it('has a revision-6 FADT with the PM1a event block at the base, the control block 4 ports above, SCI 9, no SMI port, an 8042', () => {
    const f = view('FADT');
    expect(byName.FADT.bytes[8]).toBe(6);
    expect(f.getUint32(ACPI_FADT.firmwareCtrl, true)).toBe(0xe01c0);
    expect(f.getUint32(ACPI_FADT.dsdt, true)).toBe(0xe0200);
    expect(f.getBigUint64(ACPI_FADT.xFirmwareCtrl, true)).toBe(0xe01c0n);
    expect(f.getBigUint64(ACPI_FADT.xDsdt, true)).toBe(0xe0200n);
    expect(f.getUint16(ACPI_FADT.sciInt, true)).toBe(9);
    expect(f.getUint32(ACPI_FADT.smiCmd, true)).toBe(0);
    expect(f.getUint32(ACPI_FADT.pm1aEvtBlk, true)).toBe(0x600);
    expect(f.getUint32(ACPI_FADT.pm1aCntBlk, true)).toBe(0x604);
    expect([f.getUint8(ACPI_FADT.pm1EvtLen), f.getUint8(ACPI_FADT.pm1CntLen)]).toEqual([4, 2]);
    expect(f.getUint16(ACPI_FADT.iapcBootArch, true)).toBe(0x3);
    expect(f.getUint32(ACPI_FADT.flags, true)).toBe(0x35);
    // Generic Address Structures: system I/O, 32 and 16 bits wide, word access, the same ports.
    expect(Array.from(byName.FADT.bytes.subarray(ACPI_FADT.xPm1aEvtBlk, ACPI_FADT.xPm1aEvtBlk + 12))).toEqual([1, 32, 0, 2, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(byName.FADT.bytes.subarray(ACPI_FADT.xPm1aCntBlk, ACPI_FADT.xPm1aCntBlk + 12))).toEqual([1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0]);
    // Hardware-reduced ACPI stays off (flag bit 20): Linux would drop the PIC and PIT set-up.
    expect(f.getUint32(ACPI_FADT.flags, true) & (1 << 20)).toBe(0);
  });

  it('has a 64-byte version-2 FACS and a DSDT whose AML is Name(\\_S5, Package(4){5, 5, 0, 0})', () => {
    expect(text(byName.FACS.bytes, 0, 4)).toBe('FACS');
    expect(view('FACS').getUint32(4, true)).toBe(64);
    expect(byName.FACS.bytes[32]).toBe(2);
    expect(Buffer.from(byName.DSDT.bytes.subarray(36)).toString('hex')).toBe('085c5f53355f1208040a050a050000');
    expect(byName.DSDT.bytes.subarray(36)).toEqual(S5_AML);
    expect(byName.DSDT.bytes[8]).toBe(2);
  });

  it('writes every table into guest memory where it was placed', () => {
    const writes: [number, number][] = [];
    const t = writeAcpiTables({ write: (gpa: number, bytes: Uint8Array) => void writes.push([gpa, bytes.length]) }, { pmBase: 0xb000 });
    expect(writes).toEqual(t.placements.map((p) => [p.gpa, p.bytes.length]));
    expect(new DataView(t.placements[3].bytes.buffer).getUint32(ACPI_FADT.pm1aCntBlk, true)).toBe(0xb004);
  });

  it('rejects a misaligned or out-of-range PM base, a bad SCI and a table address outside the area, naming the option', () => {
    expect(() => buildAcpiTables({ pmBase: 0x601 })).toThrow(new ConfigError('acpiTables.pmBase', 'must be a 4-byte aligned I/O port with 6 ports free above it, got 1537'));
    expect(() => buildAcpiTables({ pmBase: 0xfffc })).toThrow(/acpiTables.pmBase/);
    expect(() => buildAcpiTables({ pmBase: 0x600, sciIrq: 16 })).toThrow(/acpiTables.sciIrq.*\[0, 15\]/);
    expect(() => buildAcpiTables({ pmBase: 0x600, address: ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size - 0x100 })).toThrow(/acpiTables.address/);
    expect(() => buildAcpiTables({ pmBase: 0x600, address: 0xe0008 })).toThrow(/acpiTables.address/);
    expect(() => buildAcpiTables(null as never)).toThrow(new ConfigError('acpiTables', 'options must be an object'));
  });
});
