import { ConfigError } from '@kvmts/core';
import { identityMapPageTables } from '../src/boot';

const qword = (bytes: Uint8Array, index: number): bigint => new DataView(bytes.buffer).getBigUint64(index * 8, true);

describe('identityMapPageTables', () => {
  it('reproduces the Linux boot recipe tables for 1 GiB at 0x9000', () => {
    const t = identityMapPageTables({ pml4Addr: 0x9000, mapBytes: 1 << 30 });
    expect(t.gpa).toBe(0x9000);
    expect(t.cr3).toBe(0x9000n);
    expect(t.bytes.length).toBe(3 * 4096);
    expect(qword(t.bytes, 0)).toBe(0xa003n); // PML4[0] → PDPT
    expect(qword(t.bytes, 1)).toBe(0n);
    expect(qword(t.bytes, 512)).toBe(0xb003n); // PDPT[0] → PD
    expect(qword(t.bytes, 513)).toBe(0n);
    for (const i of [0, 1, 255, 511]) expect(qword(t.bytes, 1024 + i)).toBe((BigInt(i) << 21n) | 0x83n);
  });

  it('sets U/S at every level for user mappings', () => {
    const t = identityMapPageTables({ pml4Addr: 0x10000, mapBytes: 4 << 20, user: true });
    expect(qword(t.bytes, 0)).toBe(0x11007n);
    expect(qword(t.bytes, 512)).toBe(0x12007n);
    expect(qword(t.bytes, 1024)).toBe(0x87n);
    expect(qword(t.bytes, 1025)).toBe(0x200087n);
    expect(qword(t.bytes, 1026)).toBe(0n); // 4 MiB = two 2 MiB pages, no more
  });

  it('adds one page directory per GiB and rounds up to 2 MiB pages', () => {
    const t = identityMapPageTables({ pml4Addr: 0x10000, mapBytes: 3 * 2 ** 30 + 1 });
    expect(t.bytes.length).toBe((2 + 4) * 4096);
    expect(qword(t.bytes, 512 + 3)).toBe(0x15003n); // PDPT[3] → fourth PD
    expect(qword(t.bytes, 1024 + 3 * 512)).toBe(0xc0000083n); // first page of the fourth GiB
    expect(qword(t.bytes, 1024 + 3 * 512 + 1)).toBe(0n);
  });

  it('rejects a misaligned PML4 and impossible sizes, naming the option', () => {
    expect(() => identityMapPageTables({ pml4Addr: 0x9001, mapBytes: 1 << 30 })).toThrow(ConfigError);
    expect(() => identityMapPageTables({ pml4Addr: 0x9001, mapBytes: 1 << 30 })).toThrow(/pageTables\.pml4Addr/);
    expect(() => identityMapPageTables({ pml4Addr: 0x9000, mapBytes: 0 })).toThrow(/pageTables\.mapBytes/);
    expect(() => identityMapPageTables({ pml4Addr: 0x9000, mapBytes: 513 * 2 ** 30 })).toThrow(/pageTables\.mapBytes/);
  });
});
