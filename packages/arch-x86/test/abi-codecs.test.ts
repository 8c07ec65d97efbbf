/**
 * Golden-byte tests for the kvm_regs / kvm_segment / kvm_dtable / kvm_sregs codecs.
 * Expected bytes are written out by hand as little-endian hex, field by field in C struct
 * order, so they do not depend on the codecs or the layout tables they test.
 */
import {
  type X86Regs,
  type X86Sregs,
  X86RegsLayout,
  X86Sregs2Layout,
  X86SregsLayout,
  X86SyncRegsLayout,
  type X86Sregs2,
  createX86Sregs2,
  decodeSregs2,
  encodeSregs2,
  createX86Regs,
  createX86Segment,
  createX86Sregs,
  decodeDTable,
  decodeRegs,
  decodeSegment,
  decodeSregs,
  encodeDTable,
  encodeRegs,
  encodeSegment,
  encodeSregs,
} from '../src/abi';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function buffer(size: number, fill = 0): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size).fill(fill);
  return { bytes, view: new DataView(bytes.buffer) };
}

describe('kvm_regs codec', () => {
  const regs: X86Regs = {
    rax: 0x1122334455667788n, rbx: 1n, rcx: 2n, rdx: 3n,
    rsi: 0x7000n, rdi: 5n, rsp: 0x8ff0n, rbp: 0x8ff0n,
    r8: 8n, r9: 9n, r10: 10n, r11: 11n, r12: 12n, r13: 13n, r14: 14n,
    r15: 0xffffffffffffffffn, rip: 0x100200n, rflags: 0x2n,
  };
  // one little-endian u64 per register, kvm_regs order
  const golden = hex(
    '8877665544332211' + '0100000000000000' + '0200000000000000' + '0300000000000000' +
    '0070000000000000' + '0500000000000000' + 'f08f000000000000' + 'f08f000000000000' +
    '0800000000000000' + '0900000000000000' + '0a00000000000000' + '0b00000000000000' +
    '0c00000000000000' + '0d00000000000000' + '0e00000000000000' + 'ffffffffffffffff' +
    '0002100000000000' + '0200000000000000',
  );

  it('encodes known values into the golden 144 bytes', () => {
    const { bytes, view } = buffer(X86RegsLayout.size, 0xcc);
    encodeRegs(regs, view);
    expect(toHex(bytes)).toBe(toHex(golden));
  });

  it('decodes the golden bytes back to the same values', () => {
    expect(decodeRegs(new DataView(golden.buffer))).toEqual(regs);
  });

  it('decodes into a caller-provided object (no new object per call)', () => {
    const out = createX86Regs();
    expect(decodeRegs(new DataView(golden.buffer), out)).toBe(out);
    expect(out.r15).toBe(0xffffffffffffffffn);
  });

  it('works at an offset inside a larger buffer (kvm_run.s.regs)', () => {
    const syncRegs = 304 + X86SyncRegsLayout.fields.regs.offset;
    const { bytes, view } = buffer(2352);
    encodeRegs(regs, view, syncRegs);
    expect(toHex(bytes.subarray(syncRegs, syncRegs + 144))).toBe(toHex(golden));
    expect(bytes.subarray(0, syncRegs).every((b) => b === 0)).toBe(true);
    expect(decodeRegs(view, undefined, syncRegs)).toEqual(regs);
  });

  it('stores negative bigints as their 64-bit two’s complement', () => {
    const { view } = buffer(X86RegsLayout.size);
    encodeRegs({ ...regs, rax: -1n }, view);
    expect(view.getBigUint64(0, true)).toBe(0xffffffffffffffffn);
  });

  it('creates zeroed registers with the reserved RFLAGS bit 1 set', () => {
    const r = createX86Regs();
    expect(r.rflags).toBe(2n);
    expect(r.rax).toBe(0n);
    expect(Object.keys(r)).toHaveLength(18);
  });
});

/** The 64-bit Linux boot state from reference x86-64.md §7. */
function bootSregs(): X86Sregs {
  const s = createX86Sregs();
  const code = { base: 0n, limit: 0xffffffff, selector: 0x10, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0 };
  const data = { ...code, selector: 0x18, type: 0x3, db: 1, l: 0 };
  s.cs = { ...code };
  for (const n of ['ds', 'es', 'fs', 'gs', 'ss'] as const) s[n] = { ...data };
  s.tr = { base: 0n, limit: 0xfffff, selector: 0x20, type: 0xb, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 };
  s.ldt = { base: 0n, limit: 0xffff, selector: 0, type: 0x2, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
  s.gdt = { base: 0x500n, limit: 39 };
  s.idt = { base: 0x528n, limit: 7 };
  s.cr0 = 0x80000011n;
  s.cr2 = 0n;
  s.cr3 = 0x9000n;
  s.cr4 = 0x20n;
  s.cr8 = 0n;
  s.efer = 0x500n;
  s.apicBase = 0xfee00900n;
  s.interruptBitmap = [0n, 1n << 32n, 0n, 0x8000000000000000n]; // vectors 96 and 255
  return s;
}

//                      base             limit    sel  ty pr dp db s  l  g  av un pad
const SEG_CS = '0000000000000000 ffffffff 1000 0b 01 00 00 01 01 01 00 00 00';
const SEG_DS = '0000000000000000 ffffffff 1800 03 01 00 01 01 00 01 00 00 00';
const SEG_TR = '0000000000000000 ffff0f00 2000 0b 01 00 00 00 00 00 00 00 00';
const SEG_LDT = '0000000000000000 ffff0000 0000 02 01 00 00 00 00 00 00 01 00';
//                  base             limit pad
const DT_GDT = '0005000000000000 2700 000000000000';
const DT_IDT = '2805000000000000 0700 000000000000';
const SREGS_GOLDEN = hex(
  SEG_CS + SEG_DS + SEG_DS + SEG_DS + SEG_DS + SEG_DS + SEG_TR + SEG_LDT + DT_GDT + DT_IDT +
    '1100008000000000' + // cr0
    '0000000000000000' + // cr2
    '0090000000000000' + // cr3
    '2000000000000000' + // cr4
    '0000000000000000' + // cr8
    '0005000000000000' + // efer
    '0009e0fe00000000' + // apic_base
    '0000000000000000' + '0000000001000000' + '0000000000000000' + '0000000000000080', // interrupt_bitmap
);

describe('kvm_segment / kvm_dtable codecs', () => {
  it('encodes a 64-bit code segment into the golden 24 bytes and writes padding as zero', () => {
    const { bytes, view } = buffer(24, 0xff);
    encodeSegment(bootSregs().cs, view);
    expect(toHex(bytes)).toBe(toHex(hex(SEG_CS)));
    expect(decodeSegment(view)).toEqual(bootSregs().cs);
  });

  it('encodes a GDT pointer into the golden 16 bytes with zeroed padding', () => {
    const { bytes, view } = buffer(16, 0xff);
    encodeDTable({ base: 0x500n, limit: 39 }, view);
    expect(toHex(bytes)).toBe(toHex(hex(DT_GDT)));
    expect(decodeDTable(view)).toEqual({ base: 0x500n, limit: 39 });
  });

  it('decodes into a caller-provided segment object', () => {
    const seg = createX86Segment();
    expect(decodeSegment(new DataView(hex(SEG_TR).buffer), seg)).toBe(seg);
    expect(seg).toMatchObject({ selector: 0x20, type: 0xb, limit: 0xfffff, s: 0, present: 1 });
  });
});

describe('kvm_sregs codec', () => {
  it('encodes the long-mode boot state into the golden 312 bytes', () => {
    expect(SREGS_GOLDEN.byteLength).toBe(X86SregsLayout.size);
    const { bytes, view } = buffer(X86SregsLayout.size, 0xee);
    encodeSregs(bootSregs(), view);
    expect(toHex(bytes)).toBe(toHex(SREGS_GOLDEN));
  });

  it('decodes the golden bytes back to the same state', () => {
    expect(decodeSregs(new DataView(SREGS_GOLDEN.buffer))).toEqual(bootSregs());
  });

  it('reuses the caller’s object, segments and bitmap array when decoding', () => {
    const out = createX86Sregs();
    const cs = out.cs;
    const bitmap = out.interruptBitmap;
    expect(decodeSregs(new DataView(SREGS_GOLDEN.buffer), out)).toBe(out);
    expect(out.cs).toBe(cs);
    expect(out.interruptBitmap).toBe(bitmap);
    expect(out.interruptBitmap[1]).toBe(1n << 32n);
  });

  it('round-trips at kvm_run.s.regs.sregs (offset 304 + 144)', () => {
    const at = 304 + X86SyncRegsLayout.fields.sregs.offset;
    const { bytes, view } = buffer(2352);
    encodeSregs(bootSregs(), view, at);
    expect(toHex(bytes.subarray(at, at + 312))).toBe(toHex(SREGS_GOLDEN));
    expect(decodeSregs(view, undefined, at)).toEqual(bootSregs());
  });
});

describe('kvm_sregs2 codec', () => {
  function bootSregs2(): X86Sregs2 {
    const { interruptBitmap: _bitmap, ...common } = bootSregs();
    return { ...common, flags: 1n, pdptrs: [0xa001n, 0xb001n, 0xc001n, 0xffffffffff001n] };
  }
  // the first 280 bytes are laid out as in kvm_sregs; then flags and pdptrs[4]
  const SREGS2_GOLDEN = hex(
    toHex(SREGS_GOLDEN.subarray(0, 280)) +
      '0100000000000000' + // flags = KVM_SREGS2_FLAGS_PDPTRS_VALID
      '01a0000000000000' + '01b0000000000000' + '01c0000000000000' + '01f0ffffffff0f00', // pdptrs
  );

  it('encodes into the golden 320 bytes and decodes back', () => {
    expect(SREGS2_GOLDEN.byteLength).toBe(X86Sregs2Layout.size);
    const { bytes, view } = buffer(X86Sregs2Layout.size, 0xee);
    encodeSregs2(bootSregs2(), view);
    expect(toHex(bytes)).toBe(toHex(SREGS2_GOLDEN));
    expect(decodeSregs2(view)).toEqual(bootSregs2());
  });

  it('reuses the caller’s object and pdptrs array', () => {
    const out = createX86Sregs2();
    const pdptrs = out.pdptrs;
    expect(decodeSregs2(new DataView(SREGS2_GOLDEN.buffer), out)).toBe(out);
    expect(out.pdptrs).toBe(pdptrs);
    expect(out.pdptrs[3]).toBe(0xffffffffff001n);
  });
});
