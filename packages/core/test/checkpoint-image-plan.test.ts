/**
 * The memory image's plan (image-plan.ts): which pages it stores and the runs it writes, with
 * golden values for hand-built guests — full and incremental images, regions whose pages do not
 * fill whole bitmap bytes, views that start mid-byte of a region's dirty bitmap.
 */
import { CHECKSUM_STRETCH_PAGES, bitRange, countSetBits, forEachSetBit, planMemoryImage, IMAGE_PAGE_SIZE } from '../src/checkpoint/image-plan';

const PAGE = IMAGE_PAGE_SIZE;

/** `pages` pages of zeros, with the last byte of each page in `data` set to that page's number + 1. */
function ram(pages: number, data: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(pages * PAGE);
  for (const p of data) bytes[p * PAGE + PAGE - 1] = p + 1; // a page's tail must count as data
  return bytes;
}

function bits(bitmap: Uint8Array, limit = bitmap.length * 8): number[] {
  const out: number[] = [];
  forEachSetBit(bitmap, limit, (b) => out.push(b));
  return out;
}

/** Runs as [first page, pages, image page] triples. */
function runsOf(plan: ReturnType<typeof planMemoryImage>): number[][] {
  return plan.runs.map((r) => [r.offset / PAGE, r.length / PAGE, r.position / PAGE]);
}

describe('bitmap helpers', () => {
  it('forEachSetBit visits set bits in order, below the limit', () => {
    const map = Uint8Array.of(0b1010_0001, 0, 0x80, 0xff);
    expect(bits(map, 24)).toEqual([0, 5, 7, 23]);
    expect(bits(map, 6)).toEqual([0, 5]);
    expect(bits(map, 26)).toEqual([0, 5, 7, 23, 24, 25]);
    expect(bits(new Uint8Array(0), 100)).toEqual([]);
  });

  it('forEachSetBit and countSetBits read a view at any byte offset: its unaligned head, whole words, tail', () => {
    // 15 bytes from byte 1 of the buffer: head bytes 0-2 (buffer bytes 1-3), words at 3 and 7, tail 11-14.
    const buffer = new Uint8Array(16);
    const map = buffer.subarray(1);
    const set = [0, 17, 23, 24, 31, 32, 63, 64, 95, 96, 100, 119];
    for (const b of set) map[b >>> 3] |= 1 << (b & 7);
    expect(bits(map)).toEqual(set);
    expect(countSetBits(map, map.length * 8)).toBe(set.length);
    // A limit inside the head, inside a word (bit 31 of a word: the sign bit), and inside the tail.
    expect(bits(map, 18)).toEqual([0, 17]);
    expect(bits(map, 64)).toEqual([0, 17, 23, 24, 31, 32, 63]);
    expect(countSetBits(map, 101)).toBe(11);
    // Most of a guest's bitmap is zero words: two bits of 8 GiB of pages.
    const large = new Uint8Array((8 * 2 ** 30) / IMAGE_PAGE_SIZE / 8);
    large[3] = 0x80;
    large[large.length - 1] = 0x01;
    expect(bits(large)).toEqual([31, large.length * 8 - 8]);
  });

  it('bitRange: a view at a byte boundary, a copy shifted down otherwise', () => {
    const map = Uint8Array.of(0b0000_1000, 0b0000_0110, 0b1000_0000); // bits 3, 9, 10, 23
    const aligned = bitRange(map, 8, 16);
    expect(aligned.buffer).toBe(map.buffer);
    expect(bits(aligned)).toEqual([1, 2, 15]);
    expect(Array.from(bitRange(map, 3, 8))).toEqual([0b1100_0001]); // bits 0, 6, 7
    expect(bits(bitRange(map, 4, 20))).toEqual([5, 6, 19]);
    expect(bits(bitRange(map, 10, 14))).toEqual([0, 13]); // starts mid-byte past the first byte
  });
});

describe('planMemoryImage', () => {
  it('full: stores the non-zero pages, runs cut into write pieces', () => {
    const view = ram(16, [1, 2, 3, 7, 8, 9, 10, 11]);
    const plan = planMemoryImage([{ fileOffset: 0, views: [view] }], 16 * PAGE, 2 * PAGE);
    expect(bits(plan.pageMap)).toEqual([1, 2, 3, 7, 8, 9, 10, 11]);
    expect(plan.dataPages).toBe(8);
    expect(runsOf(plan)).toEqual([
      [1, 2, 1],
      [3, 1, 3],
      [7, 2, 7],
      [9, 2, 9],
      [11, 1, 11],
    ]);
    expect(plan.views.map((v) => [v.at, v.length])).toEqual([[0, 16 * PAGE]]);
  });

  it('full: a second region at an image page that is not a multiple of 8', () => {
    const first = ram(3, [2]);
    const second = ram(10, [0, 9]);
    const plan = planMemoryImage(
      [
        { fileOffset: 3 * PAGE, views: [second] },
        { fileOffset: 0, views: [first] },
      ],
      13 * PAGE,
      64 * PAGE,
    );
    expect(bits(plan.pageMap)).toEqual([2, 3, 12]);
    expect(runsOf(plan)).toEqual([
      [2, 1, 2],
      [0, 1, 3],
      [9, 1, 12],
    ]);
    expect(plan.dataPages).toBe(3);
  });

  it('incremental: the changed pages are stored, a zero one as a hole', () => {
    const view = ram(8, [2, 6]);
    const plan = planMemoryImage([{ fileOffset: 0, views: [view], changed: Uint8Array.of(0b0110_0100) }], 8 * PAGE, 64 * PAGE);
    expect(bits(plan.pageMap)).toEqual([2, 5, 6]);
    expect(plan.dataPages).toBe(2);
    expect(runsOf(plan)).toEqual([
      [2, 1, 2],
      [6, 1, 6],
    ]);
  });

  it("incremental: 'all' stores every page of a region whose page count is not a multiple of 8", () => {
    const plan = planMemoryImage(
      [
        { fileOffset: 0, views: [ram(3, [1])], changed: 'all' },
        { fileOffset: 3 * PAGE, views: [ram(8, [0])], changed: new Uint8Array(1) },
      ],
      11 * PAGE,
      64 * PAGE,
    );
    expect(bits(plan.pageMap)).toEqual([0, 1, 2]);
    expect(plan.dataPages).toBe(1);
    expect(runsOf(plan)).toEqual([[1, 1, 1]]);
  });

  it("incremental: a region's second view reads the dirty bitmap from its own first page, mid-byte", () => {
    // Region pages 0-3 in view A, 4-11 in view B; changed: region pages 1, 5, 6, 11.
    const a = ram(4, [1]);
    const b = ram(8, [1, 2, 7]); // view B's pages 1, 2, 7 = region pages 5, 6, 11
    const changed = Uint8Array.of(0b0110_0010, 0b0000_1000);
    const plan = planMemoryImage([{ fileOffset: 0, views: [a, b], changed }], 12 * PAGE, 64 * PAGE);
    expect(bits(plan.pageMap)).toEqual([1, 5, 6, 11]);
    expect(runsOf(plan)).toEqual([
      [1, 1, 1],
      [1, 2, 5],
      [7, 1, 11],
    ]);
    expect(plan.views.map((v) => v.at / PAGE)).toEqual([0, 4]);
  });

  it('counts the stored pages and lists the checksum stretches holding them, per view', () => {
    expect(CHECKSUM_STRETCH_PAGES).toBe(1024);
    // A 3000-page view with data in stretches 0 and 2 (pages 5 and 2500); a second view with none.
    const first = ram(3000, [5, 2500]);
    const second = ram(1100, []);
    const full = planMemoryImage([{ fileOffset: 0, views: [first, second] }], 4100 * PAGE, 64 * PAGE);
    expect([full.storedPages, full.dataPages]).toEqual([2, 2]);
    expect(full.views.map((v) => v.stretches)).toEqual([[0, 2], []]);
    // Incremental: a changed zero page counts as stored, and its stretch is visited.
    const changed = new Uint8Array(Math.ceil(4100 / 8));
    for (const p of [5, 1030, 3001, 4099]) changed[p >>> 3] |= 1 << (p & 7); // 3001 and 4099: the second view's pages 1 and 1099
    const link = planMemoryImage([{ fileOffset: 0, views: [first, second], changed }], 4100 * PAGE, 64 * PAGE);
    expect([link.storedPages, link.dataPages]).toEqual([4, 1]);
    expect(link.views.map((v) => v.stretches)).toEqual([[0, 1], [0, 1]]);
  });

  it('refuses parts that leave a gap or do not cover the image', () => {
    expect(() => planMemoryImage([{ fileOffset: PAGE, views: [ram(1, [])] }], 2 * PAGE, PAGE)).toThrow('image parts must be contiguous: part at 4096, expected 0');
    expect(() => planMemoryImage([{ fileOffset: 0, views: [ram(1, [])] }], 2 * PAGE, PAGE)).toThrow('image parts cover 4096 bytes, expected 8192');
  });
});
