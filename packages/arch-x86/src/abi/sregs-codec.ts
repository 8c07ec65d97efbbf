/**
 * `struct kvm_segment`, `struct kvm_dtable`, `struct kvm_sregs` and `struct kvm_sregs2`
 * ⇄ typed objects.
 * Decode into / encode from a caller-provided DataView at an optional byte offset
 * (e.g. kvm_run.s.regs + 144 for sync regs); offsets come from the layout tables.
 * Encoders write the padding bytes as zero so a buffer never leaks stale data to KVM.
 */
import { X86DtableLayout, X86SegmentLayout, X86Sregs2Layout, X86SregsLayout } from './layouts';
import {
  X86_DTABLE_NAMES,
  X86_INTERRUPT_BITMAP_WORDS,
  X86_SEGMENT_ATTR_NAMES,
  X86_SEGMENT_NAMES,
  X86_SREGS_U64,
  type X86DtableName,
  type X86SegmentAttrName,
  type X86SegmentName,
  type X86SregsU64Name,
} from './registers';

/** One segment register as KVM presents it (limit already byte-granular). */
export type X86Segment = { base: bigint; limit: number; selector: number } & Record<X86SegmentAttrName, number>;

export interface X86DTable {
  base: bigint;
  limit: number;
}

/** The members kvm_sregs and kvm_sregs2 share (same offsets in both). */
export type X86SregsCommon = Record<X86SegmentName, X86Segment> &
  Record<X86DtableName, X86DTable> &
  Record<X86SregsU64Name, bigint>;

export type X86Sregs = X86SregsCommon & {
  /** 256 bits: a pending external interrupt not yet injected (at most one bit set). */
  interruptBitmap: [bigint, bigint, bigint, bigint];
};

/** KVM_GET/SET_SREGS2 (KVM_CAP_SREGS2): no interrupt bitmap; PAE PDPTRs when flags says so. */
export type X86Sregs2 = X86SregsCommon & {
  /** KVM_SREGS2_FLAGS_PDPTRS_VALID (1) when pdptrs hold the PAE page-directory pointers. */
  flags: bigint;
  pdptrs: [bigint, bigint, bigint, bigint];
};

const SEG = X86SegmentLayout.fields;
const SEG_ATTR_OFFSETS: readonly number[] = X86_SEGMENT_ATTR_NAMES.map((n) => SEG[n].offset);
const DT = X86DtableLayout.fields;
const SR = X86SregsLayout.fields;
const SEGMENT_OFFSETS: readonly number[] = X86_SEGMENT_NAMES.map((n) => SR[n].offset);
const DTABLE_OFFSETS: readonly number[] = X86_DTABLE_NAMES.map((n) => SR[n].offset);
const U64_OFFSETS: readonly number[] = X86_SREGS_U64.map((r) => SR[r.member].offset);
const BITMAP = SR.interrupt_bitmap;
const SR2 = X86Sregs2Layout.fields;
const PDPTRS = SR2.pdptrs;
const PDPTR_COUNT = PDPTRS.size / PDPTRS.stride;

export function createX86Segment(): X86Segment {
  const s = { base: 0n, limit: 0, selector: 0 } as X86Segment;
  for (const n of X86_SEGMENT_ATTR_NAMES) s[n] = 0;
  return s;
}

export function createX86DTable(): X86DTable {
  return { base: 0n, limit: 0 };
}

export function createX86Sregs(): X86Sregs {
  const s = { interruptBitmap: [0n, 0n, 0n, 0n] } as unknown as X86Sregs;
  fillCommon(s);
  return s;
}

export function decodeSegment(view: DataView, out: X86Segment = createX86Segment(), at = 0): X86Segment {
  out.base = view.getBigUint64(at + SEG.base.offset, true);
  out.limit = view.getUint32(at + SEG.limit.offset, true);
  out.selector = view.getUint16(at + SEG.selector.offset, true);
  for (let i = 0; i < X86_SEGMENT_ATTR_NAMES.length; i++) {
    out[X86_SEGMENT_ATTR_NAMES[i]] = view.getUint8(at + SEG_ATTR_OFFSETS[i]);
  }
  return out;
}

export function encodeSegment(seg: Readonly<X86Segment>, view: DataView, at = 0): void {
  view.setBigUint64(at + SEG.base.offset, BigInt.asUintN(64, seg.base), true);
  view.setUint32(at + SEG.limit.offset, seg.limit, true);
  view.setUint16(at + SEG.selector.offset, seg.selector, true);
  for (let i = 0; i < X86_SEGMENT_ATTR_NAMES.length; i++) {
    view.setUint8(at + SEG_ATTR_OFFSETS[i], seg[X86_SEGMENT_ATTR_NAMES[i]]);
  }
  view.setUint8(at + SEG.padding.offset, 0);
}

export function decodeDTable(view: DataView, out: X86DTable = createX86DTable(), at = 0): X86DTable {
  out.base = view.getBigUint64(at + DT.base.offset, true);
  out.limit = view.getUint16(at + DT.limit.offset, true);
  return out;
}

export function encodeDTable(dt: Readonly<X86DTable>, view: DataView, at = 0): void {
  view.setBigUint64(at + DT.base.offset, BigInt.asUintN(64, dt.base), true);
  view.setUint16(at + DT.limit.offset, dt.limit, true);
  for (let i = 0; i < DT.padding.size; i++) view.setUint8(at + DT.padding.offset + i, 0);
}

function fillCommon(s: X86SregsCommon): void {
  for (const n of X86_SEGMENT_NAMES) s[n] = createX86Segment();
  for (const n of X86_DTABLE_NAMES) s[n] = createX86DTable();
  for (const r of X86_SREGS_U64) s[r.name] = 0n;
}

export function createX86Sregs2(): X86Sregs2 {
  const s = { flags: 0n, pdptrs: [0n, 0n, 0n, 0n] } as unknown as X86Sregs2;
  fillCommon(s);
  return s;
}

function decodeCommon(view: DataView, s: X86SregsCommon, at: number): void {
  for (let i = 0; i < X86_SEGMENT_NAMES.length; i++) {
    decodeSegment(view, s[X86_SEGMENT_NAMES[i]], at + SEGMENT_OFFSETS[i]);
  }
  for (let i = 0; i < X86_DTABLE_NAMES.length; i++) {
    decodeDTable(view, s[X86_DTABLE_NAMES[i]], at + DTABLE_OFFSETS[i]);
  }
  for (let i = 0; i < X86_SREGS_U64.length; i++) {
    s[X86_SREGS_U64[i].name] = view.getBigUint64(at + U64_OFFSETS[i], true);
  }
}

function encodeCommon(s: Readonly<X86SregsCommon>, view: DataView, at: number): void {
  for (let i = 0; i < X86_SEGMENT_NAMES.length; i++) {
    encodeSegment(s[X86_SEGMENT_NAMES[i]], view, at + SEGMENT_OFFSETS[i]);
  }
  for (let i = 0; i < X86_DTABLE_NAMES.length; i++) {
    encodeDTable(s[X86_DTABLE_NAMES[i]], view, at + DTABLE_OFFSETS[i]);
  }
  for (let i = 0; i < X86_SREGS_U64.length; i++) {
    view.setBigUint64(at + U64_OFFSETS[i], BigInt.asUintN(64, s[X86_SREGS_U64[i].name]), true);
  }
}

export function decodeSregs(view: DataView, out?: X86Sregs, at = 0): X86Sregs {
  const s = out ?? createX86Sregs();
  decodeCommon(view, s, at);
  for (let i = 0; i < X86_INTERRUPT_BITMAP_WORDS; i++) {
    s.interruptBitmap[i] = view.getBigUint64(at + BITMAP.offset + i * BITMAP.stride, true);
  }
  return s;
}

export function encodeSregs(sregs: Readonly<X86Sregs>, view: DataView, at = 0): void {
  encodeCommon(sregs, view, at);
  for (let i = 0; i < X86_INTERRUPT_BITMAP_WORDS; i++) {
    view.setBigUint64(at + BITMAP.offset + i * BITMAP.stride, BigInt.asUintN(64, sregs.interruptBitmap[i]), true);
  }
}

export function decodeSregs2(view: DataView, out?: X86Sregs2, at = 0): X86Sregs2 {
  const s = out ?? createX86Sregs2();
  decodeCommon(view, s, at);
  s.flags = view.getBigUint64(at + SR2.flags.offset, true);
  for (let i = 0; i < PDPTR_COUNT; i++) s.pdptrs[i] = view.getBigUint64(at + PDPTRS.offset + i * PDPTRS.stride, true);
  return s;
}

export function encodeSregs2(sregs: Readonly<X86Sregs2>, view: DataView, at = 0): void {
  encodeCommon(sregs, view, at);
  view.setBigUint64(at + SR2.flags.offset, BigInt.asUintN(64, sregs.flags), true);
  for (let i = 0; i < PDPTR_COUNT; i++) {
    view.setBigUint64(at + PDPTRS.offset + i * PDPTRS.stride, BigInt.asUintN(64, sregs.pdptrs[i]), true);
  }
}
