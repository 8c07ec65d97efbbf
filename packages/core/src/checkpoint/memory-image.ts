/**
 * The memory image: guest RAM as one file, regions one after another at page-aligned offsets.
 * Only the pages a checkpoint stores are written; the rest are holes (a sparse file), so the
 * file costs the disk what the guest uses. A restore maps the file MAP_PRIVATE as the guest's
 * RAM: pages load on first touch, guest writes go to private copies, the file is never written.
 *
 * Which pages a checkpoint stores is its page map (`pages.bin`, one bit per image page, bit n of
 * byte n / 8, least significant first):
 *  - a full checkpoint stores the non-zero pages (every other page is zero: a hole);
 *  - an incremental one stores the pages changed since its parent (a changed page that became
 *    zero is stored as a hole, told apart from an unchanged page by its bit).
 *
 * Integrity is per stored page: `pages.crc` holds the CRC-32 of each stored page, in page
 * order (4 bytes each, little-endian), and the manifest holds the SHA-256 of both files. So
 * writing and checking an image costs what it stores, not the guest's size (the format-1 image
 * hashed every byte of RAM, zero or not: most of a save's time), and a damaged page is named.
 * CRC-32 is what it must be here — an error-detecting code over each 4 KiB page, as Firecracker
 * checks its snapshot files —, not a seal against deliberate edits, which a checksum stored next
 * to the data never is.
 */
import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { CheckpointError } from '../errors/errors';
import { nodeZlib } from '../util/lazy-builtins';

export const IMAGE_PAGE_SIZE = 4096;
const ZERO_PAGE = Buffer.alloc(IMAGE_PAGE_SIZE);
/** Bytes of one page's checksum in `pages.crc`. */
export const PAGE_CHECKSUM_BYTES = 4;

/** Bytes of an image-wide page map for an image of `imageBytes`. */
export function pageMapBytes(imageBytes: number): number {
  return Math.ceil(imageBytes / IMAGE_PAGE_SIZE / 8);
}

/** Whether bit `page` is set in a little-endian bitmap (KVM's dirty-log layout and the page map's). */
export function isPageSet(bitmap: Uint8Array, page: number): boolean {
  return (bitmap[page >>> 3] & (1 << (page & 7))) !== 0;
}

/** zlib's crc32, loaded on first use (a checkpoint's), not at start-up, where every thread would compile it, from source under `--jitless` (scripts/bench/README.md, `boot`). */
let crc32: ((data: Uint8Array) => number) | undefined;

/** The checksum of one page as `pages.crc` stores it. */
export function pageChecksum(page: Uint8Array): number {
  crc32 ??= nodeZlib().crc32;
  return crc32(page) >>> 0;
}

/** Reports bytes done of a known total, at most every `step` bytes (and always at the end). */
export type BytesProgress = (done: number) => void;

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

/** What writing an image produced: the page map, the stored pages' checksums and counts. */
export interface ImageWriteResult {
  readonly pageMap: Uint8Array;
  /** CRC-32 of each stored page, in page order (PAGE_CHECKSUM_BYTES each, little-endian). */
  readonly checksums: Uint8Array;
  /** Pages stored (bits set in the page map). */
  readonly pages: number;
  /** Non-zero pages among them: the ones that take disk space. */
  readonly dataPages: number;
}

/** Grows a little-endian uint32 list without knowing its final length. */
class ChecksumList {
  private bytes = new Uint8Array(4096);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  push(value: number): void {
    if ((this.length + 1) * PAGE_CHECKSUM_BYTES > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.view.setUint32(this.length++ * PAGE_CHECKSUM_BYTES, value, true);
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length * PAGE_CHECKSUM_BYTES);
  }
}

/**
 * Create `file` (it must not exist) holding `parts` sparsely, `totalBytes` long, fsynced.
 * Parts must cover the image contiguously in file order. Runs of stored non-zero pages are
 * written with one write each. `progress` receives the image bytes scanned so far.
 */
export function writeMemoryImage(file: string, parts: readonly ImagePart[], totalBytes: number, progress?: BytesProgress): ImageWriteResult {
  const pageMap = new Uint8Array(pageMapBytes(totalBytes));
  const checksums = new ChecksumList();
  let dataPages = 0;
  const fd = fs.openSync(file, 'wx');
  try {
    let expected = 0;
    for (const part of [...parts].sort((a, b) => a.fileOffset - b.fileOffset)) {
      if (part.fileOffset !== expected) throw new RangeError(`image parts must be contiguous: part at ${part.fileOffset}, expected ${expected}`);
      let regionPage = 0;
      let at = part.fileOffset;
      for (const view of part.views) {
        const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
        let runStart = -1;
        const flush = (end: number): void => {
          if (runStart < 0) return;
          for (let done = runStart; done < end; ) done += fs.writeSync(fd, bytes, done, end - done, at + done);
          runStart = -1;
        };
        // A full image asks which pages are non-zero in one native pass over the view; an
        // incremental one looks only at its changed pages.
        const nonZero = part.changed === undefined ? native.nonZeroPages(view, IMAGE_PAGE_SIZE, part.anonymous === true) : undefined;
        for (let off = 0, p = 0; off < bytes.length; off += IMAGE_PAGE_SIZE, p++, regionPage++) {
          let stored: boolean;
          let zero: boolean;
          if (nonZero !== undefined) {
            zero = !isPageSet(nonZero, p);
            stored = !zero;
          } else {
            stored = part.changed === 'all' || isPageSet(part.changed as Uint8Array, regionPage);
            zero = stored && bytes.compare(ZERO_PAGE, 0, IMAGE_PAGE_SIZE, off, off + IMAGE_PAGE_SIZE) === 0;
          }
          if (stored) {
            const imagePage = (at + off) / IMAGE_PAGE_SIZE;
            pageMap[imagePage >>> 3] |= 1 << (imagePage & 7);
            checksums.push(pageChecksum(bytes.subarray(off, off + IMAGE_PAGE_SIZE)));
          }
          if (stored && !zero) {
            dataPages++;
            if (runStart < 0) runStart = off;
          } else {
            flush(off);
          }
          if (progress && (off & PROGRESS_MASK) === 0 && off > 0) progress(at + off);
        }
        flush(bytes.length);
        at += view.byteLength;
      }
      expected = at;
    }
    if (expected !== totalBytes) throw new RangeError(`image parts cover ${expected} bytes, expected ${totalBytes}`);
    fs.ftruncateSync(fd, totalBytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  progress?.(totalBytes);
  return { pageMap, checksums: checksums.result(), pages: checksums.length, dataPages };
}

/** Progress is reported every 8 MiB of image (a power of two: a mask test per page). */
const PROGRESS_MASK = 8 * 1024 * 1024 - 1;

/** The pages set in a page map, in order. */
export function* storedPages(pageMap: Uint8Array): Generator<number> {
  for (let byte = 0; byte < pageMap.length; byte++) {
    const bits = pageMap[byte];
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) yield byte * 8 + bit;
  }
}

/** Guest RAM as the image lays it out: each region's views at its file offset (regions in order). */
export interface ImageTarget {
  readonly name: string;
  readonly guestPhysAddr: number;
  readonly fileOffset: number;
  readonly size: number;
  readonly views: readonly Uint8Array[];
}

/** Where image page `page` is in guest RAM: its bytes and a description for errors, or undefined. */
export function targetPage(targets: readonly ImageTarget[], page: number): { bytes: Uint8Array; where: string } | undefined {
  const at = page * IMAGE_PAGE_SIZE;
  for (const t of targets) {
    if (at < t.fileOffset || at >= t.fileOffset + t.size) continue;
    let off = at - t.fileOffset;
    const where = `page ${page} (region '${t.name}', guest-physical 0x${(t.guestPhysAddr + off).toString(16)})`;
    for (const v of t.views) {
      if (off < v.byteLength) return { bytes: v.subarray(off, off + IMAGE_PAGE_SIZE), where };
      off -= v.byteLength;
    }
  }
  return undefined;
}

/** A stored page whose checksum does not match. */
export function damagedPage(file: string, where: string): CheckpointError {
  return new CheckpointError(file, `${where}: checksum mismatch: the memory image is damaged`, { code: 'corrupt' });
}

/**
 * Check a full image mapped as guest RAM (`targets`): every stored page against its CRC-32, and
 * every page the map does not hold is zero. The zero check reads only what the file really
 * holds outside the map (SEEK_DATA/SEEK_HOLE over `imageFd`): a hole reads as zeros by
 * definition, so the check costs the stored pages, not the guest's size. `corrupt` naming the
 * page (and its region and guest-physical address) otherwise.
 */
export function verifyMemoryImage(file: string, imageFd: number, pageMap: Uint8Array, checksums: Uint8Array, targets: readonly ImageTarget[], progress?: BytesProgress): void {
  const sums = new DataView(checksums.buffer, checksums.byteOffset, checksums.byteLength);
  let index = 0;
  for (const page of storedPages(pageMap)) {
    const target = targetPage(targets, page);
    if (!target) throw new CheckpointError(file, `holds page ${page}, outside the machine's memory`, { code: 'corrupt' });
    if (index * PAGE_CHECKSUM_BYTES >= checksums.byteLength) throw new CheckpointError(file, 'has more stored pages than checksums', { code: 'corrupt' });
    if (pageChecksum(target.bytes) !== sums.getUint32(index * PAGE_CHECKSUM_BYTES, true)) throw damagedPage(file, target.where);
    index++;
    if (progress && (index & 2047) === 0) progress(index * IMAGE_PAGE_SIZE);
  }
  if (index * PAGE_CHECKSUM_BYTES !== checksums.byteLength) throw new CheckpointError(file, `page map holds ${index} pages, the checksum list ${checksums.byteLength / PAGE_CHECKSUM_BYTES}`, { code: 'corrupt' });
  // Outside the map: only the file's data extents can differ from zero.
  const { SEEK_DATA, SEEK_HOLE } = native.constants;
  const end = targets.reduce((n, t) => Math.max(n, t.fileOffset + t.size), 0);
  for (let at = native.lseek(imageFd, 0, SEEK_DATA); at !== null && at < end; at = native.lseek(imageFd, at, SEEK_DATA)) {
    const extentEnd = Math.min(native.lseek(imageFd, at, SEEK_HOLE) ?? end, end);
    for (let page = Math.floor(at / IMAGE_PAGE_SIZE); page * IMAGE_PAGE_SIZE < extentEnd; page++) {
      if (isPageSet(pageMap, page)) continue;
      const target = targetPage(targets, page);
      if (target && !Buffer.from(target.bytes.buffer, target.bytes.byteOffset, target.bytes.byteLength).equals(ZERO_PAGE)) {
        throw new CheckpointError(file, `${target.where}: holds data, but the page map says it is zero: the memory image is damaged`, { code: 'corrupt' });
      }
    }
    at = extentEnd;
  }
  progress?.(index * IMAGE_PAGE_SIZE);
}
