/**
 * Segment descriptors: the 8-byte GDT entry format (Intel SDM vol. 3 §3.4.5) and the
 * `kvm_segment`-shaped view KVM_SET_SREGS wants. Pure codecs; no I/O.
 */
import { ConfigError } from '@kvmts/core';

/** The fields of one 8-byte code/data/system descriptor, as stored (limit is the raw 20-bit field). */
export interface GdtEntryFields {
  /** 32-bit base (system descriptors in long mode carry bits 63:32 in a second quadword). */
  readonly base: number;
  /** Raw 20-bit limit; with `g = 1` it counts 4 KiB pages. */
  readonly limit: number;
  /** 4-bit type: data 0x3 RW accessed, code 0xb XR accessed, TSS 0x9 available / 0xb busy, LDT 0x2. */
  readonly type: number;
  /** 1 = code/data, 0 = system. */
  readonly s: number;
  readonly dpl: number;
  readonly present: number;
  readonly avl: number;
  /** 64-bit code segment. */
  readonly l: number;
  /** D/B: 32-bit default operand size / stack. Must be 0 when `l = 1`. */
  readonly db: number;
  /** Granularity: limit in 4 KiB units. */
  readonly g: number;
}

/**
 * A segment register as KVM holds it (`struct kvm_segment`): the limit is already expanded to
 * bytes, `unusable` marks a null selector. The ABI package's X86Segment has these field names.
 */
export interface SegmentFields {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** Descriptor types (the 4-bit `type` field). */
export const SEGMENT_TYPE = {
  /** Data, read/write, accessed. */
  DATA_RW_ACCESSED: 0x3,
  /** Code, execute/read, accessed. */
  CODE_XR_ACCESSED: 0xb,
  /** System: LDT. */
  LDT: 0x2,
  /** System: 64-bit (or 32-bit) TSS, available. */
  TSS_AVAILABLE: 0x9,
  /** System: 64-bit (or 32-bit) TSS, busy — what TR must hold. */
  TSS_BUSY: 0xb,
} as const;

/** Bit layout of a descriptor quadword: [field, shift, width]. Base and limit are split and handled apart. */
const FLAG_FIELDS = [
  ['type', 40, 4],
  ['s', 44, 1],
  ['dpl', 45, 2],
  ['present', 47, 1],
  ['avl', 52, 1],
  ['l', 53, 1],
  ['db', 54, 1],
  ['g', 55, 1],
] as const;

function checkField(name: string, value: number, bits: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new ConfigError(`gdtEntry.${name}`, `must be an integer in [0, 2^${bits}), got ${value}`);
  }
}

/** Encode one descriptor into its 64-bit quadword. Throws ConfigError naming a field out of range. */
export function encodeGdtEntry(fields: GdtEntryFields): bigint {
  checkField('base', fields.base, 32);
  checkField('limit', fields.limit, 20);
  for (const [name, , width] of FLAG_FIELDS) checkField(name, fields[name], width);
  if (fields.l === 1 && fields.db === 1) {
    throw new ConfigError('gdtEntry.db', 'must be 0 for a 64-bit code segment (l = 1)');
  }
  const base = BigInt(fields.base);
  const limit = BigInt(fields.limit);
  let q = (limit & 0xffffn) | ((base & 0xffffffn) << 16n) | (((limit >> 16n) & 0xfn) << 48n) | ((base >> 24n) << 56n);
  for (const [name, shift] of FLAG_FIELDS) q |= BigInt(fields[name]) << BigInt(shift);
  return q;
}

/** Decode a descriptor quadword into its fields (inverse of encodeGdtEntry). */
export function decodeGdtEntry(descriptor: bigint): GdtEntryFields {
  const bits = (shift: number, width: number): number => Number((descriptor >> BigInt(shift)) & ((1n << BigInt(width)) - 1n));
  const out: Record<string, number> = {
    base: bits(16, 24) | (bits(56, 8) << 24),
    limit: bits(0, 16) | (bits(48, 4) << 16),
  };
  out.base >>>= 0;
  for (const [name, shift, width] of FLAG_FIELDS) out[name] = bits(shift, width);
  return out as unknown as GdtEntryFields;
}

/** The descriptor as the 8 little-endian bytes that sit in the GDT. */
export function gdtEntryBytes(descriptor: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, descriptor), true);
  return bytes;
}

/**
 * What a segment register holds after loading `selector` whose descriptor is `descriptor`
 * (what KVM_SET_SREGS wants). For a 16-byte long-mode system descriptor (TSS, LDT) pass its
 * second quadword as `high`: it carries base bits 63:32.
 */
export function segmentFromDescriptor(selector: number, descriptor: bigint, high = 0n): SegmentFields {
  checkField('selector', selector, 16);
  const f = decodeGdtEntry(descriptor);
  const base = BigInt(f.base) | (f.s === 0 ? (high & 0xffffffffn) << 32n : 0n);
  return {
    base,
    // With G = 1 the CPU scales the limit to bytes and fills the low 12 bits with ones.
    limit: f.g ? ((f.limit << 12) | 0xfff) >>> 0 : f.limit,
    selector,
    type: f.type,
    present: f.present,
    dpl: f.dpl,
    db: f.db,
    s: f.s,
    l: f.l,
    g: f.g,
    avl: f.avl,
    // A selector whose descriptor is not present cannot be in use (null selector).
    unusable: f.present ? 0 : 1,
  };
}

/**
 * A 16-byte long-mode system descriptor (TSS or LDT): [low, high] quadwords. `base` is 64-bit;
 * the limit is in bytes (byte granular, ≤ 0xfffff).
 */
export function encodeSystemDescriptor64(base: bigint, limit: number, type: number, dpl = 0): [bigint, bigint] {
  if (base < 0n || base >= 1n << 64n) throw new ConfigError('systemDescriptor.base', `must fit in 64 bits, got ${base}`);
  const low = encodeGdtEntry({
    base: Number(base & 0xffffffffn),
    limit,
    type,
    s: 0,
    dpl,
    present: 1,
    avl: 0,
    l: 0,
    db: 0,
    g: 0,
  });
  return [low, base >> 32n];
}

/** A segment register that holds a null selector (`unusable`), as KVM reports one. */
export function unusableSegment(): SegmentFields {
  return { base: 0n, limit: 0, selector: 0, type: 0, present: 0, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 1 };
}
