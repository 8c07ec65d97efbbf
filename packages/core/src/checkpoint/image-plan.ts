/**
 * Planning a memory image (memory-image.ts): which pages it stores (its page map) and the runs
 * of stored non-zero pages to write, each at most a write piece long.
 *
 * The plan works on bitmaps a byte (eight pages) at a time and visits only set bits: a 1 GiB
 * guest has 262 144 pages, and a JavaScript loop asking about each page took ~20 ms of a ~55 ms
 * save (a full save of 64 MiB touched; measured on this project's machine) before the first
 * byte went to the disk. What is left is the native pass that finds a full image's non-zero
 * pages (~3 ms per GiB), and in JavaScript the stored pages plus 32 KiB of bitmap per GiB.
 */
import * as native from '@kvmts/native';

export const IMAGE_PAGE_SIZE = 4096;
const ZERO_PAGE = Buffer.alloc(IMAGE_PAGE_SIZE);

/** Bytes of an image-wide page map for an image of `imageBytes`. */
export function pageMapBytes(imageBytes: number): number {
  return Math.ceil(imageBytes / IMAGE_PAGE_SIZE / 8);
}

/** Whether bit `page` is set in a little-endian bitmap (KVM's dirty-log layout and the page map's). */
export function isPageSet(bitmap: Uint8Array, page: number): boolean {
  return (bitmap[page >>> 3] & (1 << (page & 7))) !== 0;
}

/**
 * The bitmap's whole 32-bit words, where it is 4-byte aligned: `head` bytes before them, then
 * `words`. Sparse bitmaps are mostly zero words, skipped four bytes at a time — an incremental
 * link of an 8 GiB guest scans 256 KiB of bitmap, whatever it stores. (Typed arrays use the
 * host's byte order; kvmts' hosts, x86-64 and arm64, are little-endian, as the bitmaps are.)
 */
function alignedWords(bitmap: Uint8Array, bytes: number): { head: number; words: Uint32Array } {
  const head = (4 - (bitmap.byteOffset & 3)) & 3;
  if (bytes <= head) return { head: bytes, words: NO_WORDS };
  return { head, words: new Uint32Array(bitmap.buffer, bitmap.byteOffset + head, (bytes - head) >>> 2) };
}
const NO_WORDS = new Uint32Array(0);

/** Calls `visit` with the index of every set bit below `limit`, in order. */
export function forEachSetBit(bitmap: Uint8Array, limit: number, visit: (bit: number) => void): void {
  const bytes = Math.min(bitmap.length, Math.ceil(limit / 8));
  const { head, words } = alignedWords(bitmap, bytes);
  const visitBits = (value: number, firstBit: number): boolean => {
    for (let v = value; v !== 0; ) {
      const low = v & -v;
      const bit = firstBit + 31 - Math.clz32(low);
      if (bit >= limit) return false;
      visit(bit);
      v ^= low;
    }
    return true;
  };
  for (let i = 0; i < head; i++) if (!visitBits(bitmap[i], i * 8)) return;
  for (let w = 0; w < words.length; w++) if (words[w] !== 0 && !visitBits(words[w], (head + w * 4) * 8)) return;
  for (let i = head + words.length * 4; i < bytes; i++) if (!visitBits(bitmap[i], i * 8)) return;
}

/** How many of the first `limit` bits are set. */
export function countSetBits(bitmap: Uint8Array, limit: number): number {
  let n = 0;
  forEachSetBit(bitmap, limit, () => n++);
  return n;
}

/** Bits [first, first + count) of `bitmap` as a bitmap of their own (a view when `first` is a multiple of 8). */
export function bitRange(bitmap: Uint8Array, first: number, count: number): Uint8Array {
  const bytes = Math.ceil(count / 8);
  if (first % 8 === 0) return bitmap.subarray(first / 8, first / 8 + bytes);
  const out = new Uint8Array(bytes);
  // From the byte holding `first` on: bit b of `from` is bit base + b of `bitmap`.
  const base = first - (first % 8);
  const from = bitmap.subarray(base / 8);
  forEachSetBit(from, first - base + count, (b) => {
    const bit = base + b;
    if (bit >= first) out[(bit - first) >>> 3] |= 1 << ((bit - first) & 7);
  });
  return out;
}

/** One stretch of the image: a region's bytes (views of at most 4 GiB each) and which pages to store. */
export interface ImagePart {
  readonly fileOffset: number;
  readonly views: readonly Uint8Array[];
  /**
   * Incremental: the region's changed pages (bit per page of the region), or 'all' for a region
   * whose writes KVM does not log; they are stored, zero or not. Undefined (a full image): the
   * non-zero pages are stored.
   */
  readonly changed?: Uint8Array | 'all';
  /**
   * The views are anonymous private memory (host-mappings.ts): a full image then skips, unread,
   * the pages that were never written. Never set it for a file mapping.
   */
  readonly anonymous?: boolean;
}

/** A run of stored non-zero pages: `length` bytes of `bytes` from `offset`, at `position` in the image. */
export interface ImageRun {
  readonly bytes: Buffer;
  readonly offset: number;
  readonly length: number;
  readonly position: number;
}

/**
 * Pages of a checksum stretch: the stored pages' checksums are computed a stretch at a time (one
 * native call each, 4 MiB: ~1 ms), and only the stretches holding stored pages are visited.
 */
export const CHECKSUM_STRETCH_PAGES = 1024;

/** A view of guest RAM in the plan. */
export interface PlannedView {
  readonly bytes: Buffer;
  /** Its offset in the image. */
  readonly at: number;
  /** Its length when planned. */
  readonly length: number;
  /** The stretches of CHECKSUM_STRETCH_PAGES pages of the view holding stored pages (stretch s: pages from s * CHECKSUM_STRETCH_PAGES), in order. */
  readonly stretches: readonly number[];
}

/** What an image will hold: its page map, the runs to write, and every view (for the checksums). */
export interface ImagePlan {
  readonly pageMap: Uint8Array;
  /** Pages the page map holds (stored, zero or not). */
  readonly storedPages: number;
  readonly dataPages: number;
  readonly runs: readonly ImageRun[];
  readonly views: readonly PlannedView[];
}

/** Which of a view's pages are stored, and which of those hold data (bit per page of the view). */
interface ViewPages {
  readonly stored: Uint8Array;
  readonly data: Uint8Array;
}

/**
 * A view's stored and data pages. Full: the non-zero pages (one native pass; never-written
 * anonymous pages are not read). Incremental: the changed pages, a zero one among them stored
 * as a hole; 'all' asks the native pass which are zero (never-written anonymous pages are holes
 * either way, so they need not be read).
 */
function viewPages(part: ImagePart, view: Uint8Array, firstRegionPage: number): ViewPages {
  const pages = view.byteLength / IMAGE_PAGE_SIZE;
  if (part.changed === undefined) {
    const nonZero = native.nonZeroPages(view, IMAGE_PAGE_SIZE, part.anonymous === true);
    return { stored: nonZero, data: nonZero };
  }
  if (part.changed === 'all') {
    const stored = new Uint8Array(Math.ceil(pages / 8)).fill(0xff);
    if (pages % 8 !== 0) stored[stored.length - 1] = (1 << (pages % 8)) - 1;
    return { stored, data: native.nonZeroPages(view, IMAGE_PAGE_SIZE, part.anonymous === true) };
  }
  const stored = bitRange(part.changed, firstRegionPage, pages);
  const data = new Uint8Array(stored.length);
  forEachSetBit(stored, pages, (p) => {
    const off = p * IMAGE_PAGE_SIZE;
    if (Buffer.compare(ZERO_PAGE, view.subarray(off, off + IMAGE_PAGE_SIZE)) !== 0) data[p >>> 3] |= 1 << (p & 7);
  });
  return { stored, data };
}

/**
 * Decide which pages `parts` store (a full image: the non-zero ones; an incremental one: the
 * changed ones, zero or not) and cut the stored non-zero pages into runs of at most
 * `writePieceBytes`. Parts must cover the image contiguously in file order.
 */
export function planMemoryImage(parts: readonly ImagePart[], totalBytes: number, writePieceBytes: number): ImagePlan {
  const pageMap = new Uint8Array(pageMapBytes(totalBytes));
  const runs: ImageRun[] = [];
  const views: PlannedView[] = [];
  let storedPages = 0;
  let dataPages = 0;
  let expected = 0;
  for (const part of [...parts].sort((a, b) => a.fileOffset - b.fileOffset)) {
    if (part.fileOffset !== expected) throw new RangeError(`image parts must be contiguous: part at ${part.fileOffset}, expected ${expected}`);
    let regionPage = 0;
    let at = part.fileOffset;
    for (const view of part.views) {
      const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
      const pages = view.byteLength / IMAGE_PAGE_SIZE;
      const { stored, data } = viewPages(part, view, regionPage);
      const firstImagePage = at / IMAGE_PAGE_SIZE;
      const stretches: number[] = [];
      forEachSetBit(stored, pages, (p) => {
        storedPages++;
        const imagePage = firstImagePage + p;
        pageMap[imagePage >>> 3] |= 1 << (imagePage & 7);
        const stretch = Math.floor(p / CHECKSUM_STRETCH_PAGES);
        if (stretches[stretches.length - 1] !== stretch) stretches.push(stretch);
      });
      // Runs of consecutive data pages [start, end), cut into write pieces.
      const base = at;
      let start = -1;
      let end = -1;
      const endRun = (): void => {
        for (let from = start * IMAGE_PAGE_SIZE; from < end * IMAGE_PAGE_SIZE; from += writePieceBytes) {
          runs.push({ bytes, offset: from, length: Math.min(end * IMAGE_PAGE_SIZE, from + writePieceBytes) - from, position: base + from });
        }
      };
      forEachSetBit(data, pages, (p) => {
        dataPages++;
        if (p === end) {
          end++;
          return;
        }
        if (start >= 0) endRun();
        start = p;
        end = p + 1;
      });
      if (start >= 0) endRun();
      views.push({ bytes, at, length: bytes.length, stretches });
      at += view.byteLength;
      regionPage += pages;
    }
    expected = at;
  }
  if (expected !== totalBytes) throw new RangeError(`image parts cover ${expected} bytes, expected ${totalBytes}`);
  return { pageMap, storedPages, dataPages, runs, views };
}
