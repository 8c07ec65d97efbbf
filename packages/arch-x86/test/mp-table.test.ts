/**
 * The MP tables (Intel MP spec 1.4) against golden bytes written out by hand from the spec's
 * tables, and a small independent reader that walks the entries as a kernel does.
 */
import { ConfigError } from '@kvmts/core';
import { MP_TABLE_AREA, buildMpTable, mpIsaInterrupts, mpTableBytes, mpTablePlacements, writeMpTable } from '../src/firmware';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sum8 = (b: Uint8Array): number => b.reduce((s, x) => (s + x) & 0xff, 0);

/** ISA IRQ → pin entries of the 'pc' routing, 8 bytes each: INT, flags 0, bus 0, irq, IOAPIC 1, pin. */
function ioEntries(ioapicId: number): string {
  const pins = [[0, 2], [1, 1], ...Array.from({ length: 13 }, (_, i) => [i + 3, i + 3])];
  return pins.map(([irq, pin]) => `03000000 00${irq.toString(16).padStart(2, '0')}${ioapicId.toString(16).padStart(2, '0')}${pin.toString(16).padStart(2, '0')}`.replace(/ /g, '')).join('');
}

describe('MP floating pointer and configuration table', () => {
  it('one CPU: golden bytes', () => {
    const t = buildMpTable({ cpus: 1 });
    expect(t.floatingPointer.gpa).toBe(0xf0000);
    // "_MP_", table at 0xF0010, length 1 (16 bytes), revision 1.4, checksum, no default config, IMCRP clear.
    expect(hex(t.floatingPointer.bytes)).toBe('5f4d505f' + '10000f00' + '01' + '04' + '81' + '00' + '00000000');
    expect(t.configTable.gpa).toBe(0xf0010);
    const golden =
      // header: "PCMP", length 0xD8, rev 4, checksum 0xCB, OEM "KVMTS   ", product "KVMTS X86   ",
      // no OEM table, 20 entries, LAPIC at 0xFEE00000, no extended table
      '50434d50' + 'd800' + '04' + 'cb' + '4b564d5453202020' + '4b564d5453205838362020 20'.replace(/ /g, '') +
      '00000000' + '0000' + '1400' + '0000e0fe' + '0000' + '00' + '00' +
      // processor: APIC id 0, version 0x14, enabled | BSP, signature 0x600, features FPU | APIC
      '00' + '00' + '14' + '03' + '00060000' + '01020000' + '0000000000000000' +
      // bus 0 "ISA   "
      '01' + '00' + '495341202020' +
      // IOAPIC id 1, version 0x11, enabled, at 0xFEC00000
      '02' + '01' + '11' + '01' + '0000c0fe' +
      ioEntries(1) +
      // ExtINT → APIC 0 LINT0; NMI → every APIC's LINT1
      '04030000' + '00000000' + '04010000' + '0000ff01';
    expect(hex(t.configTable.bytes)).toBe(golden);
  });

  it('two CPUs: the second is enabled but not the BSP; ids and checksums follow', () => {
    const t = buildMpTable({ cpus: 2 });
    const table = t.configTable.bytes;
    expect(table.length).toBe(0xd8 + 20);
    expect(hex(table.subarray(44, 84))).toBe('0000140300060000010200000000000000000000' + '0001140100060000010200000000000000000000');
    expect(table[84 + 8 + 1]).toBe(2); // IOAPIC id = cpus
    expect(sum8(table)).toBe(0);
    expect(sum8(t.floatingPointer.bytes)).toBe(0);
  });

  it('walks as a kernel reads it: every entry typed and sized, the count and length in the header', () => {
    for (const cpus of [1, 3, 64, 254]) {
      const t = buildMpTable({ cpus });
      const table = t.configTable.bytes;
      const view = new DataView(table.buffer, table.byteOffset);
      const pointerView = new DataView(t.floatingPointer.bytes.buffer);
      expect(pointerView.getUint32(4, true)).toBe(t.configTable.gpa);
      expect(view.getUint16(4, true)).toBe(table.length);
      const seen: number[] = [0, 0, 0, 0, 0];
      let at = 44;
      for (let i = 0; i < view.getUint16(34, true); i++) {
        const type = table[at];
        seen[type]++;
        at += type === 0 ? 20 : 8;
      }
      expect(at).toBe(table.length);
      expect(seen).toEqual([cpus, 1, 1, 15, 2]);
      expect(t.floatingPointer.bytes.length + table.length).toBe(mpTableBytes(cpus));
      expect(t.configTable.gpa + table.length).toBeLessThanOrEqual(MP_TABLE_AREA.base + MP_TABLE_AREA.size);
    }
  });

  it("'identity' routing lists IRQs 0–15 on pins 0–15 (KVM's default GSI routes)", () => {
    expect(mpIsaInterrupts('identity')).toEqual(Array.from({ length: 16 }, (_, irq) => ({ irq, pin: irq })));
    expect(mpIsaInterrupts('pc').slice(0, 2)).toEqual([{ irq: 0, pin: 2 }, { irq: 1, pin: 1 }]);
    const t = buildMpTable({ cpus: 1, isaRouting: 'identity' });
    expect(t.configTable.bytes.length).toBe(0xd8 + 8);
    expect(sum8(t.configTable.bytes)).toBe(0);
  });

  it('places the tables where asked and returns them as flat-boot data', () => {
    const t = buildMpTable({ cpus: 2, address: 0xf8000, ioapicId: 9 });
    expect(mpTablePlacements(t).map((p) => [p.gpa, p.bytes.length])).toEqual([[0xf8000, 16], [0xf8010, 0xd8 + 20]]);
    expect(t.configTable.bytes[44 + 40 + 8 + 1]).toBe(9);
  });

  it('rejects what no table can describe with a ConfigError naming the option', () => {
    expect(() => buildMpTable({ cpus: 0 })).toThrow(/mpTable.cpus/);
    expect(() => buildMpTable({ cpus: 255 })).toThrow(/mpTable.cpus/);
    expect(() => buildMpTable({ cpus: 2, ioapicId: 1 })).toThrow(/mpTable.ioapicId.*0–1/);
    expect(() => buildMpTable({ cpus: 2, address: 0xf0008 })).toThrow(/mpTable.address/);
    expect(() => buildMpTable({ cpus: 2, address: 0xe0000 })).toThrow(ConfigError);
    expect(() => buildMpTable({ cpus: 254, address: 0xff000 })).toThrow(/mpTable.address/);
    expect(() => buildMpTable({ cpus: 2, isaRouting: 'apic' as never })).toThrow(/mpTable.isaRouting/);
  });
});

describe('writeMpTable', () => {
  it('writes both structures where buildMpTable places them', () => {
    const writes: [number, string][] = [];
    const t = writeMpTable({ write: (gpa, bytes) => writes.push([gpa, hex(bytes)]) }, { cpus: 2 });
    expect(writes).toEqual([
      [0xf0000, hex(t.floatingPointer.bytes)],
      [0xf0010, hex(t.configTable.bytes)],
    ]);
  });
});
