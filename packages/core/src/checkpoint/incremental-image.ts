/**
 * Incremental memory images: a checkpoint that holds only the pages changed since its parent.
 *
 * Its `memory.img` has the full logical length of the machine's image, but only the changed
 * pages are written (zero ones stay holes, as in a full image); `pages.bin` says which pages the
 * link holds — one bit per image page — so a changed page that became zero is told apart from an
 * unchanged one. The link's `sha256` covers the stored pages in page order, so writing and
 * checking a link costs what changed, not the machine's size.
 *
 * A restore maps the chain's base (full) image MAP_PRIVATE as guest RAM, then copies each link's
 * pages over it, oldest first (applyIncrement): the pages a link holds are read once, every other
 * page still comes lazily from the base file.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { CheckpointError } from '../errors/errors';
import { IMAGE_PAGE_SIZE } from './sparse-image';
import { isPageSet } from './dirty-tracker';

/** One region's bytes in the image, and which of its pages changed (null: all of them). */
export interface IncrementPart {
  readonly fileOffset: number;
  readonly views: readonly Uint8Array[];
  readonly changed: Uint8Array | null;
}

export interface IncrementWriteResult {
  /** The image-wide page map: bit n set = page n is in this link. */
  readonly pageMap: Uint8Array;
  /** Pages in the link (bits set). */
  readonly pages: number;
  /** Non-zero pages among them: the ones that take disk space. */
  readonly dataPages: number;
  /** SHA-256 of the stored pages in page order. */
  readonly sha256: string;
}

/** Bytes of an image-wide page map for an image of `imageBytes`. */
export function pageMapBytes(imageBytes: number): number {
  return Math.ceil(imageBytes / IMAGE_PAGE_SIZE / 8);
}

/**
 * Write an incremental image to `file` (created; fsynced): the changed pages of `parts` at their
 * offsets, the file truncated to `totalBytes`.
 */
export function writeIncrementalImage(file: string, parts: readonly IncrementPart[], totalBytes: number): IncrementWriteResult {
  const pageMap = new Uint8Array(pageMapBytes(totalBytes));
  const hash = createHash('sha256');
  let pages = 0;
  let dataPages = 0;
  const fd = fs.openSync(file, 'wx');
  try {
    for (const part of parts) {
      let regionPage = 0;
      let at = part.fileOffset;
      for (const view of part.views) {
        const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
        for (let off = 0; off < bytes.length; off += IMAGE_PAGE_SIZE, regionPage++) {
          if (part.changed !== null && !isPageSet(part.changed, regionPage)) continue;
          const page = bytes.subarray(off, off + IMAGE_PAGE_SIZE);
          const imagePage = (at + off) / IMAGE_PAGE_SIZE;
          pageMap[imagePage >>> 3] |= 1 << (imagePage & 7);
          pages++;
          hash.update(page);
          if (page.some((b) => b !== 0)) {
            dataPages++;
            let done = 0;
            while (done < IMAGE_PAGE_SIZE) done += fs.writeSync(fd, page, done, IMAGE_PAGE_SIZE - done, at + off + done);
          }
        }
        at += view.byteLength;
      }
    }
    fs.ftruncateSync(fd, totalBytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { pageMap, pages, dataPages, sha256: hash.digest('hex') };
}

/** Guest RAM as the image lays it out: each region's writable views at its file offset. */
export interface ImageTarget {
  readonly fileOffset: number;
  readonly size: number;
  readonly views: readonly Uint8Array[];
}

/** The writable bytes of image page `page`, or undefined when no region holds it. */
function targetPage(targets: readonly ImageTarget[], page: number): Uint8Array | undefined {
  const at = page * IMAGE_PAGE_SIZE;
  for (const t of targets) {
    if (at < t.fileOffset || at >= t.fileOffset + t.size) continue;
    let off = at - t.fileOffset;
    for (const v of t.views) {
      if (off < v.byteLength) return v.subarray(off, off + IMAGE_PAGE_SIZE);
      off -= v.byteLength;
    }
  }
  return undefined;
}

/** One link to apply: its image file, its page map, and the checksum of its stored pages. */
export interface IncrementSource {
  /** Names the link in errors (`<dir>/memory.img`). */
  readonly where: string;
  readonly imageFd: number;
  readonly pageMap: Uint8Array;
  readonly pages: number;
  readonly sha256: string;
}

/**
 * Copy a link's pages from its image into guest RAM. With `verify`, the stored pages' SHA-256
 * must match the manifest (`corrupt` naming the image otherwise). Returns the pages copied.
 */
export function applyIncrement(source: IncrementSource, targets: readonly ImageTarget[], verify: boolean): number {
  const hash = verify ? createHash('sha256') : undefined;
  const totalPages = targets.reduce((n, t) => Math.max(n, (t.fileOffset + t.size) / IMAGE_PAGE_SIZE), 0);
  let copied = 0;
  for (let byte = 0; byte < source.pageMap.length; byte++) {
    if (source.pageMap[byte] === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((source.pageMap[byte] & (1 << bit)) === 0) continue;
      const page = byte * 8 + bit;
      const dest = page < totalPages ? targetPage(targets, page) : undefined;
      if (!dest) throw new CheckpointError(source.where, `holds page ${page}, outside the machine's memory`, { code: 'corrupt' });
      let done = 0;
      while (done < IMAGE_PAGE_SIZE) {
        const n = fs.readSync(source.imageFd, dest, done, IMAGE_PAGE_SIZE - done, page * IMAGE_PAGE_SIZE + done);
        if (n === 0) throw new CheckpointError(source.where, `ends inside page ${page}`, { code: 'corrupt' });
        done += n;
      }
      hash?.update(dest);
      copied++;
    }
  }
  if (copied !== source.pages) throw new CheckpointError(source.where, `page map holds ${copied} pages, the manifest says ${source.pages}`, { code: 'corrupt' });
  if (hash && hash.digest('hex') !== source.sha256) throw new CheckpointError(source.where, 'checksum mismatch: the incremental memory image is damaged', { code: 'corrupt' });
  return copied;
}
