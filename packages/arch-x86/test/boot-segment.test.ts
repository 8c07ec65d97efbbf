import { ConfigError } from '@kvmts/core';
import {
  decodeGdtEntry,
  encodeGdtEntry,
  encodeSystemDescriptor64,
  gdtEntryBytes,
  SEGMENT_TYPE,
  segmentFromDescriptor,
  type GdtEntryFields,
} from '../src/boot';

const flat = { base: 0, limit: 0xfffff, dpl: 0, present: 1, avl: 0, g: 1 };
const code64: GdtEntryFields = { ...flat, type: SEGMENT_TYPE.CODE_XR_ACCESSED, s: 1, l: 1, db: 0 };
const data32: GdtEntryFields = { ...flat, type: SEGMENT_TYPE.DATA_RW_ACCESSED, s: 1, l: 0, db: 1 };

describe('GDT descriptor codec', () => {
  it('encodes the Linux boot-protocol descriptors to their known quadwords', () => {
    expect(encodeGdtEntry(code64)).toBe(0x00af9b000000ffffn);
    expect(encodeGdtEntry(data32)).toBe(0x00cf93000000ffffn);
    expect(encodeGdtEntry({ ...flat, type: SEGMENT_TYPE.TSS_BUSY, s: 0, l: 0, db: 0 })).toBe(0x008f8b000000ffffn);
    expect(encodeGdtEntry({ ...code64, dpl: 3 })).toBe(0x00affb000000ffffn);
  });

  it('places every base and limit bit in its split field', () => {
    const fields: GdtEntryFields = { base: 0x12345678, limit: 0xabcde, type: 3, s: 1, dpl: 3, present: 1, avl: 0, l: 0, db: 1, g: 1 };
    expect(encodeGdtEntry(fields)).toBe(0x12caf3345678bcden);
    expect(decodeGdtEntry(0x12caf3345678bcden)).toEqual(fields);
  });

  it('decodes what it encodes, including a base with bit 31 set', () => {
    const fields: GdtEntryFields = { base: 0xfedcba98, limit: 0x00067, type: 9, s: 0, dpl: 0, present: 1, avl: 1, l: 0, db: 0, g: 0 };
    expect(decodeGdtEntry(encodeGdtEntry(fields))).toEqual(fields);
  });

  it('writes the quadword little-endian', () => {
    expect(Array.from(gdtEntryBytes(0x00af9b000000ffffn))).toEqual([0xff, 0xff, 0, 0, 0, 0x9b, 0xaf, 0x00]);
  });

  it('rejects out-of-range fields with a ConfigError naming the field', () => {
    expect(() => encodeGdtEntry({ ...data32, limit: 0x100000 })).toThrow(ConfigError);
    expect(() => encodeGdtEntry({ ...data32, limit: 0x100000 })).toThrow(/gdtEntry\.limit/);
    expect(() => encodeGdtEntry({ ...data32, dpl: 4 })).toThrow(/gdtEntry\.dpl/);
    expect(() => encodeGdtEntry({ ...code64, db: 1 })).toThrow(/gdtEntry\.db/);
  });
});

describe('segmentFromDescriptor', () => {
  it('turns the 64-bit code descriptor into a kvm_segment with the limit expanded for G', () => {
    expect(segmentFromDescriptor(0x10, 0x00af9b000000ffffn)).toEqual({
      base: 0n, limit: 0xffffffff, selector: 0x10, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0,
    });
  });

  it('keeps a byte-granular limit as is and marks a non-present descriptor unusable', () => {
    const tss = segmentFromDescriptor(0x30, 0x0000890005400067n);
    expect(tss).toMatchObject({ base: 0x540n, limit: 0x67, type: 9, s: 0, present: 1, unusable: 0 });
    expect(segmentFromDescriptor(0, 0n)).toMatchObject({ present: 0, unusable: 1, limit: 0 });
  });

  it('takes base bits 63:32 of a system descriptor from its second quadword', () => {
    const [low, high] = encodeSystemDescriptor64(0x1_2345_6789n, 0x67, SEGMENT_TYPE.TSS_AVAILABLE);
    expect(low).toBe(0x2300894567890067n);
    expect(high).toBe(1n);
    expect(segmentFromDescriptor(0x30, low, high).base).toBe(0x1_2345_6789n);
  });
});
