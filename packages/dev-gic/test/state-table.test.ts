import { registerSpan, restoreThroughTable, saveThroughTable, type GicRegisterAccess, type GicStateTable } from '@kvmts/dev-gic';

/** A register file of 32-bit words by frame and offset that logs every write. */
function registerFile() {
  const words = new Map<string, number>();
  const writes: string[] = [];
  const access: GicRegisterAccess = {
    read: (frame, cpu, offset) => words.get(`${frame}/${cpu}/${offset.toString(16)}`) ?? 0,
    write: (frame, cpu, offset, value) => {
      words.set(`${frame}/${cpu}/${offset.toString(16)}`, value);
      writes.push(`${frame} cpu${cpu} 0x${offset.toString(16)}=0x${value.toString(16)}`);
    },
  };
  return { access, writes, words };
}

const TABLE: GicStateTable = [
  { name: 'ID', frame: 'd', offset: 0x8, width: 4, banked: false, restore: { kind: 'read-only' } },
  { name: 'ROUTE', frame: 'd', offset: 0x6000, width: 8, perIntid: { bits: 64, intids: 'shared' }, banked: false, restore: { kind: 'write' } },
  { name: 'SET', frame: 'r', offset: 0x100, width: 4, perIntid: { bits: 1, intids: 'private' }, banked: true, restore: { kind: 'clear-then-set', clearOffset: 0x180 } },
];

describe('GIC state-table engine', () => {
  it('derives spans: 64-bit per-INTID rows from INTID 32, banked rows once per CPU', () => {
    expect(registerSpan(TABLE[1], 64)).toEqual({ offset: 0x6100, registers: 32 });
    expect(registerSpan(TABLE[2], 64)).toEqual({ offset: 0x100, registers: 1 });
    expect(registerSpan(TABLE[0], 64)).toEqual({ offset: 0x8, registers: 1 });
  });

  it('saves 64-bit registers as low then high word and banked rows per CPU', () => {
    const { access, words } = registerFile();
    words.set('d/0/6100', 0x11);
    words.set('d/0/6104', 0x22);
    words.set('r/1/100', 0xabc);
    const saved = saveThroughTable(TABLE, access, { cpus: 2, intids: 64 });
    expect(saved.global.ROUTE.slice(0, 4)).toEqual([0x11, 0x22, 0, 0]);
    expect(saved.global.ROUTE).toHaveLength(64);
    expect(saved.perCpu.map((c) => c.SET)).toEqual([[0], [0xabc]]);
  });

  it('restores in table order, clear before set, and never writes a read-only row', () => {
    const { access, writes } = registerFile();
    const state = { cpus: 1, intids: 64, global: { ID: [7], ROUTE: Array.from({ length: 64 }, (_, i) => (i < 2 ? i + 1 : 0)) }, perCpu: [{ SET: [0x5] }] };
    restoreThroughTable(TABLE, access, { cpus: 1, intids: 64 }, state);
    expect(writes.slice(0, 2)).toEqual(['d cpu0 0x6100=0x1', 'd cpu0 0x6104=0x2']);
    expect(writes.slice(-2)).toEqual(['r cpu0 0x180=0xffffffff', 'r cpu0 0x100=0x5']);
    expect(writes.some((w) => w.includes(' 0x8='))).toBe(false);
  });
});
