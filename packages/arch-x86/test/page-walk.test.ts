/**
 * The software page walk on synthetic page tables, one golden translation per paging mode and
 * page size: 4-level (4 KiB, 2 MiB, 1 GiB), 5-level, PAE (4 KiB, 2 MiB), 2-level 32-bit (4 KiB,
 * 4 MiB with PSE-36 high bits), no paging; permissions folded over the levels; not-present
 * entries, non-canonical addresses and tables outside RAM are invalid with the reason.
 */
import { PAGING_BITS, pagingMode, walkPageTables, type PagingRegisters, type PhysReader } from '@kvmts/arch-x86';

/** Sparse guest-physical memory of page-table entries. */
class Tables {
  private readonly words = new Map<bigint, bigint>();
  constructor(private readonly ramEnd = 1n << 40n) {}
  set(gpa: number | bigint, value: bigint): this {
    this.words.set(BigInt(gpa), value);
    return this;
  }
  readonly read: PhysReader = (gpa, size) => {
    if (gpa + BigInt(size) > this.ramEnd) return undefined;
    const v = this.words.get(gpa) ?? 0n;
    return size === 4 ? v & 0xffff_ffffn : v;
  };
}

const P = 1n, W = 2n, U = 4n, PS = 0x80n, XD = 1n << 63n;
const { cr0Pg, cr4Pae, cr4Pse, cr4La57, eferLma, eferNxe } = PAGING_BITS;
const long4: PagingRegisters = { cr0: cr0Pg | 1n, cr3: 0x1000n, cr4: cr4Pae, efer: eferLma | (1n << 8n) | eferNxe };
const long5: PagingRegisters = { ...long4, cr4: cr4Pae | cr4La57 };
const pae: PagingRegisters = { cr0: cr0Pg | 1n, cr3: 0x1020n, cr4: cr4Pae, efer: 0n };
const legacy: PagingRegisters = { cr0: cr0Pg | 1n, cr3: 0x1000n, cr4: cr4Pse, efer: 0n };

describe('x86 page walk', () => {
  it('picks the paging mode from CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57', () => {
    expect(pagingMode({ cr0: 1n, cr3: 0n, cr4: cr4Pae, efer: eferLma })).toBe('none');
    expect([pagingMode(legacy), pagingMode(pae), pagingMode(long4), pagingMode(long5)]).toEqual(['2-level', 'pae', '4-level', '5-level']);
  });

  it('4-level: a 4 KiB page through PML4 → PDPT → PD → PT', () => {
    // gva 0xffff_8000_1234_5678: PML4 256, PDPT 0, PD 0x91, PT 0x145, offset 0x678
    const t = new Tables()
      .set(0x1000 + 256 * 8, 0x2000n | P | W | U)
      .set(0x2000 + 0 * 8, 0x3000n | P | W | U)
      .set(0x3000 + 0x91 * 8, 0x4000n | P | W)
      .set(0x4000 + 0x145 * 8, 0xabc_d000n | P | W | U | XD);
    expect(walkPageTables(0xffff_8000_1234_5678n, long4, t.read)).toEqual({
      valid: true, gpa: 0xabc_d678n, mode: '4-level', pageSize: 0x1000, writable: true, user: false, executable: false,
    });
  });

  it('4-level: 2 MiB and 1 GiB pages end the walk early; PAT bit 12 of a large page is not address', () => {
    const t = new Tables()
      .set(0x1000, 0x2000n | P | W | U)
      .set(0x2000 + 1 * 8, 0x8000_0000n | P | U | PS) // PDPT[1]: 1 GiB at 2 GiB, read-only
      .set(0x2000 + 2 * 8, 0x3000n | P | W | U)
      .set(0x3000 + 3 * 8, 0x1_0060_0000n | 0x1000n | P | W | U | PS); // PD[3]: 2 MiB with PAT
    expect(walkPageTables(0x4765_4321n, long4, t.read)).toEqual({ valid: true, gpa: 0x8765_4321n, mode: '4-level', pageSize: 0x4000_0000, writable: false, user: true, executable: true });
    expect(walkPageTables(0x8067_8abcn, long4, t.read)).toEqual({ valid: true, gpa: 0x1_0067_8abcn, mode: '4-level', pageSize: 0x20_0000, writable: true, user: true, executable: true });
  });

  it('5-level: one more level above, and canonical means bits 63..56 equal bit 56', () => {
    // gva 0x0002_0000_0000_1234: PML5 2, PML4 0, PDPT 0, PD 0, PT 1
    const t = new Tables()
      .set(0x1000 + 2 * 8, 0x2000n | P | W)
      .set(0x2000, 0x3000n | P | W)
      .set(0x3000, 0x4000n | P | W)
      .set(0x4000, 0x5000n | P | W)
      .set(0x5000 + 8, 0x77_7000n | P | W);
    expect(walkPageTables(0x0002_0000_0000_1234n, long5, t.read)).toMatchObject({ valid: true, gpa: 0x77_7234n, mode: '5-level', pageSize: 0x1000 });
    // The same address is not canonical under 4-level paging.
    expect(walkPageTables(0x0002_0000_0000_1234n, long4, t.read)).toEqual({ valid: false, mode: '4-level', reason: '0x2000000001234 is not canonical for 4-level paging' });
    expect(walkPageTables(0xff00_0000_0000_0000n, long5, t.read)).toMatchObject({ valid: false, reason: expect.stringMatching(/^PML5 entry 256 /) });
    expect(walkPageTables(0x0100_0000_0000_0000n, long5, t.read)).toMatchObject({ valid: false, reason: expect.stringMatching(/not canonical for 5-level/) });
  });

  it('PAE: 32-byte aligned PDPT of 4 entries whose R/W and U/S bits do not restrict; 4 KiB and 2 MiB pages', () => {
    // gva 0xc060_3abc: PDPT 3, PD 3, PT 3. gva 0x8040_0123: PDPT 2, PD 2 (2 MiB)
    const t = new Tables()
      .set(0x1020 + 3 * 8, 0x2000n | P)
      .set(0x2000 + 3 * 8, 0x3000n | P | W | U)
      .set(0x3000 + 3 * 8, 0x5_6789_a000n | P | W | U)
      .set(0x1020 + 2 * 8, 0x4000n | P)
      .set(0x4000 + 2 * 8, 0x60_0000n | P | W | PS);
    expect(walkPageTables(0xc060_3abcn, pae, t.read)).toEqual({ valid: true, gpa: 0x5_6789_aabcn, mode: 'pae', pageSize: 0x1000, writable: true, user: true, executable: true });
    expect(walkPageTables(0x8040_0123n, pae, t.read)).toMatchObject({ valid: true, gpa: 0x60_0123n, pageSize: 0x20_0000, user: false });
    expect(walkPageTables(0x1_0000_0000n, pae, t.read)).toMatchObject({ valid: false, reason: expect.stringMatching(/beyond the 32-bit/) });
  });

  it('2-level: 4-byte entries, 4 KiB pages, and 4 MiB pages with PSE-36 address bits 32–39 only when CR4.PSE', () => {
    // gva 0x0040_2abc: PD 1, PT 2. gva 0x00c1_2345: PD 3 → 4 MiB page at 0x12_0040_0000 (PDE bits 13–20 = 0x12)
    const t = new Tables()
      .set(0x1000 + 1 * 4, 0x2000n | P | W | U)
      .set(0x2000 + 2 * 4, 0x9000n | P | U)
      .set(0x1000 + 3 * 4, 0x0040_0000n | (0x12n << 13n) | P | W | PS);
    expect(walkPageTables(0x0040_2abcn, legacy, t.read)).toEqual({ valid: true, gpa: 0x9abcn, mode: '2-level', pageSize: 0x1000, writable: false, user: true, executable: true });
    expect(walkPageTables(0x00c1_2345n, legacy, t.read)).toEqual({ valid: true, gpa: 0x12_0041_2345n, mode: '2-level', pageSize: 0x40_0000, writable: true, user: false, executable: true });
    // Without CR4.PSE, PS is ignored: the PDE points at a page table (here at 0x400000 + 0x24000, all zero).
    expect(walkPageTables(0x00c1_2345n, { ...legacy, cr4: 0n }, t.read)).toMatchObject({ valid: false, reason: expect.stringMatching(/^PT entry 18 /) });
  });

  it('no paging: the address is physical (32 bits)', () => {
    expect(walkPageTables(0x1_2345_6789n, { cr0: 1n, cr3: 0n, cr4: 0n, efer: 0n }, new Tables().read)).toEqual({ valid: true, gpa: 0x2345_6789n, mode: 'none', pageSize: 0, writable: true, user: true, executable: true });
  });

  it('not-present entries and tables outside RAM are invalid, naming the level and entry', () => {
    const t = new Tables(0x10_0000n).set(0x1000, 0x2000n | P | W).set(0x2000, 0x4000_0000n | P | W);
    expect(walkPageTables(0x8000_0000n, long4, t.read)).toEqual({ valid: false, mode: '4-level', reason: 'PDPT entry 2 (at 0x2010) is not present' });
    expect(walkPageTables(0x1000n, long4, t.read)).toEqual({ valid: false, mode: '4-level', reason: 'PD entry at 0x40000000 is outside guest RAM' });
  });

  it('XD counts only with EFER.NXE', () => {
    const t = new Tables().set(0x1000, 0x2000n | P | W | XD).set(0x2000, 0x0n | P | W | PS);
    expect(walkPageTables(0x1234n, long4, t.read)).toMatchObject({ valid: true, gpa: 0x1234n, executable: false });
    expect(walkPageTables(0x1234n, { ...long4, efer: eferLma }, t.read)).toMatchObject({ valid: true, executable: true });
  });
});
