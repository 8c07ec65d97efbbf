/**
 * pageChecksums (src/checksum.ts, native/checksum.cc): the CRC-32 of selected pages of a view in
 * one call — zlib's CRC (golden values from Python's zlib.crc32, and Node's zlib.crc32), the
 * selection read from a bitmap at any bit offset, and bad input refused by name.
 */
import * as zlib from 'node:zlib';
import { pageChecksums } from '../src';

const PAGE = 4096;
const words = (b: Buffer) => Array.from({ length: b.length / 4 }, (_, i) => b.readUInt32LE(i * 4).toString(16));

describe('pageChecksums', () => {
  // Pages: 0x01 then zeros; all 0xcc; all zero; zeros then 0xff (the checkpoint format's golden pages).
  const view = new Uint8Array(4 * PAGE);
  view[0] = 1;
  view.fill(0xcc, PAGE, 2 * PAGE);
  view[4 * PAGE - 1] = 0xff;

  it("gives zlib's CRC-32 of every page, in page order, little-endian", () => {
    expect(words(pageChecksums(view, PAGE))).toEqual(['9dc4a93d', '92f3d218', 'c71c0011', 'ea1eef9c']);
    for (let p = 0; p < 4; p++) expect(pageChecksums(view, PAGE).readUInt32LE(p * 4)).toBe(zlib.crc32(view.subarray(p * PAGE, (p + 1) * PAGE)) >>> 0);
  });

  it('gives only the selected pages, the bitmap read from any bit', () => {
    expect(words(pageChecksums(view, PAGE, Uint8Array.of(0b1001)))).toEqual(['9dc4a93d', 'ea1eef9c']);
    // Bit 9 + p selects page p: bits 10 and 11 → pages 1 and 2.
    expect(words(pageChecksums(view, PAGE, Uint8Array.of(0, 0b1100), 9))).toEqual(['92f3d218', 'c71c0011']);
    expect(pageChecksums(view, PAGE, new Uint8Array(1)).length).toBe(0);
    expect(pageChecksums(view.subarray(PAGE, PAGE), PAGE).length).toBe(0);
  });

  it('refuses a view that is not whole pages, a short bitmap and a bad page size, naming the call', () => {
    expect(() => pageChecksums(view.subarray(0, PAGE + 1), PAGE)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => pageChecksums(view, PAGE, Uint8Array.of(0xff), 5)).toThrow(/pageChecksums\(16384 bytes, pages of 4096, from bit 5\).*EINVAL/);
    expect(() => pageChecksums(view, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => pageChecksums(view, PAGE, Uint8Array.of(1), -1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => pageChecksums(new Uint16Array(4) as unknown as Uint8Array, 8)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
