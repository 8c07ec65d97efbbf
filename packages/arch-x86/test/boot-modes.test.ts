import { ConfigError } from '@kvmts/core';
import {
  GUEST_LAYOUT,
  LONG_MODE_SELECTORS,
  longModeSetup,
  protectedModeSetup,
  realModeSetup,
  TSS64_BYTES,
  type MemoryWrite,
} from '../src/boot';

const flat64 = { base: 0n, limit: 0xffffffff, present: 1, g: 1, avl: 0, unusable: 0 };

function writeAt(writes: readonly MemoryWrite[], gpa: number): MemoryWrite {
  const w = writes.find((x) => x.gpa === gpa);
  if (!w) throw new Error(`no write at ${gpa}`);
  return w;
}

describe('longModeSetup', () => {
  it('at CPL0 loads the Linux boot-protocol state (x86-64.md §7)', () => {
    const setup = longModeSetup({ entry: 0x8000, stack: 0x7ff0 });
    const { sregs, regs } = setup;
    expect(sregs.cs).toEqual({ ...flat64, selector: 0x10, type: 0xb, dpl: 0, db: 0, s: 1, l: 1 });
    for (const seg of [sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss]) {
      expect(seg).toEqual({ ...flat64, selector: 0x18, type: 0x3, dpl: 0, db: 1, s: 1, l: 0 });
    }
    expect(sregs.tr).toEqual({
      base: 0x540n, limit: TSS64_BYTES - 1, selector: 0x30, type: 0xb, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0,
    });
    expect(sregs.ldt.unusable).toBe(1);
    expect(sregs.gdt).toEqual({ base: 0x500n, limit: 0x3f });
    expect(sregs.idt).toEqual({ base: 0n, limit: 0 });
    expect(sregs.cr0).toBe(0x80000011n);
    expect(sregs.cr3).toBe(BigInt(GUEST_LAYOUT.pageTables));
    expect(sregs.cr4).toBe(0x20n);
    expect(sregs.efer).toBe(0x500n);
    expect(regs).toEqual({ rip: 0x8000n, rsp: 0x7ff0n, rflags: 0x2n });
  });

  it('writes the GDT, a TSS with RSP0 and an all-ports I/O bitmap, and the page tables', () => {
    const setup = longModeSetup({ entry: 0x8000, stack: 0x7000, kernelStack: 0x6000n, cpl: 3 });
    const gdt = writeAt(setup.memoryWrites, 0x500).bytes;
    const view = new DataView(gdt.buffer, gdt.byteOffset, gdt.byteLength);
    const slot = (sel: number): bigint => view.getBigUint64(sel, true);
    expect(gdt.length).toBe(0x40 + TSS64_BYTES);
    expect(slot(0)).toBe(0n);
    expect(slot(0x10)).toBe(0x00af9b000000ffffn);
    expect(slot(0x18)).toBe(0x00cf93000000ffffn);
    expect(slot(0x20)).toBe(0x00affb000000ffffn);
    expect(slot(0x28)).toBe(0x00cff3000000ffffn);
    expect(slot(0x30)).toBe(0x00008b0005402068n); // busy 64-bit TSS at 0x540, limit 0x2068
    expect(slot(0x38)).toBe(0n);
    const tss = 0x40;
    expect(view.getBigUint64(tss + 4, true)).toBe(0x6000n); // RSP0
    expect(view.getUint16(tss + 0x66, true)).toBe(0x68); // I/O map base
    expect(gdt.subarray(tss + 0x68, tss + 0x68 + 0x2000).every((b) => b === 0)).toBe(true);
    expect(gdt[gdt.length - 1]).toBe(0xff);
    const tables = writeAt(setup.memoryWrites, GUEST_LAYOUT.pageTables).bytes;
    expect(new DataView(tables.buffer).getBigUint64(0, true)).toBe(BigInt(GUEST_LAYOUT.pageTables + 0x1000) | 7n);
  });

  it('at CPL3 starts in user segments with IOPL 3', () => {
    const { sregs, regs } = longModeSetup({ entry: 0x8000n, stack: 0x8000n, cpl: 3 });
    expect(sregs.cs).toMatchObject({ selector: LONG_MODE_SELECTORS.USER_CODE, dpl: 3, l: 1, type: 0xb });
    expect(sregs.ss).toMatchObject({ selector: LONG_MODE_SELECTORS.USER_DATA, dpl: 3, db: 1, type: 0x3 });
    expect(sregs.ds.selector & 3).toBe(3);
    expect(regs.rflags).toBe(0x3002n);
  });

  it('rejects a bad CPL, a GDT on top of the page tables, and negative addresses', () => {
    expect(() => longModeSetup({ entry: 0, stack: 0, cpl: 1 as 0 })).toThrow(/longMode\.cpl/);
    expect(() => longModeSetup({ entry: 0, stack: 0, gdtAddr: 0x10100 })).toThrow(/longMode\.gdtAddr/);
    expect(() => longModeSetup({ entry: -1, stack: 0 })).toThrow(ConfigError);
  });
});

describe('realModeSetup', () => {
  it('sets real-mode segments with base = selector · 16 and the reset control registers', () => {
    const { sregs, regs, memoryWrites } = realModeSetup({ cs: 0x800, ip: 0x10, sp: 0x7000 });
    expect(memoryWrites).toEqual([]);
    expect(sregs.cs).toEqual({
      base: 0x8000n, limit: 0xffff, selector: 0x800, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0,
    });
    expect(sregs.ds).toMatchObject({ base: 0x8000n, selector: 0x800, type: 0x3 });
    expect(sregs.ss).toMatchObject({ base: 0n, selector: 0, type: 0x3 });
    expect(sregs.tr).toMatchObject({ type: 0xb, present: 1, s: 0, limit: 0xffff });
    expect(sregs.idt).toEqual({ base: 0n, limit: 0x3ff });
    expect(sregs.cr0).toBe(0x60000010n);
    expect(sregs.efer).toBe(0n);
    expect(regs).toEqual({ rip: 0x10n, rsp: 0x7000n, rflags: 0x2n });
  });

  it('rejects values that do not fit 16 bits', () => {
    expect(() => realModeSetup({ ip: 0x10000, sp: 0 })).toThrow(/realMode\.ip/);
  });
});

describe('protectedModeSetup', () => {
  it('loads flat 32-bit segments with paging off', () => {
    const { sregs, regs, memoryWrites } = protectedModeSetup({ entry: 0x8000, stack: 0x7000 });
    expect(sregs.cs).toEqual({ ...flat64, selector: 0x10, type: 0xb, dpl: 0, db: 1, s: 1, l: 0 });
    expect(sregs.ss).toEqual({ ...flat64, selector: 0x18, type: 0x3, dpl: 0, db: 1, s: 1, l: 0 });
    expect(sregs.cr0).toBe(0x11n);
    expect(sregs.efer).toBe(0n);
    expect(sregs.gdt).toEqual({ base: 0x500n, limit: 0x1f });
    const gdt = new DataView(memoryWrites[0].bytes.buffer);
    expect(gdt.getBigUint64(0x10, true)).toBe(0x00cf9b000000ffffn);
    expect(regs.rip).toBe(0x8000n);
  });
});
