/**
 * The memory image: guest RAM as one file, regions one after another at page-aligned offsets,
 * with holes where memory is zero. Only non-zero pages are written (runs of them in one
 * write), then the file is truncated to its full length, so a mostly empty guest costs little
 * disk. A restore maps the file MAP_PRIVATE as the guest's RAM: pages load on first touch, and
 * guest writes go to private copies — the file is never written and nothing is copied up front.
 *
 * The checksum is the SHA-256 of the whole logical image (holes read as zeros), so
 * `sha256sum memory.img` reproduces it.
 *
 * An incremental checkpoint (dirty pages only, chained to a parent image) fits the same shape:
 * `writeImagePages` takes which pages to write; its manifest entry names its parent.
 */
import * as fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';

export const IMAGE_PAGE_SIZE = 4096;
const ZERO_PAGE = Buffer.alloc(IMAGE_PAGE_SIZE);

/** What writing an image produced. */
export interface ImageWriteResult {
  /** Pages written (non-zero); the rest are holes. */
  readonly dataPages: number;
}

/**
 * Write the non-zero pages of `data` (whose length is a multiple of the page size) at
 * `fileOffset` in `fd`, feeding every byte to `hash` in order. `include(page)` limits which
 * pages are considered at all (an incremental writer passes the dirty ones; default: all).
 */
export function writeImagePages(fd: number, fileOffset: number, data: Uint8Array, hash?: Hash, include?: (page: number) => boolean): ImageWriteResult {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let dataPages = 0;
  let runStart = -1;
  const flush = (end: number): void => {
    if (runStart < 0) return;
    let at = runStart;
    while (at < end) at += fs.writeSync(fd, bytes, at, end - at, fileOffset + at);
    runStart = -1;
  };
  // One update for the whole view: the same digest as page by page, without 256 calls per MiB.
  hash?.update(bytes);
  for (let at = 0; at < bytes.length; at += IMAGE_PAGE_SIZE) {
    const page = bytes.subarray(at, at + IMAGE_PAGE_SIZE);
    const wanted = include === undefined || include(at / IMAGE_PAGE_SIZE);
    if (wanted && !page.equals(ZERO_PAGE)) {
      dataPages++;
      if (runStart < 0) runStart = at;
    } else {
      flush(at);
    }
  }
  flush(bytes.length);
  return { dataPages };
}

/** One stretch of the image: a region's bytes, as views of at most 4 GiB each. */
export interface ImagePart {
  readonly fileOffset: number;
  readonly views: readonly Uint8Array[];
}

/**
 * Create `file` holding `parts` sparsely, `totalBytes` long, fsynced. Returns the pages
 * written and the SHA-256 (hex) of the logical image.
 */
export function writeSparseImage(file: string, parts: readonly ImagePart[], totalBytes: number): { dataPages: number; sha256: string } {
  const fd = fs.openSync(file, 'wx');
  try {
    const hash = createHash('sha256');
    let dataPages = 0;
    let expected = 0;
    for (const part of [...parts].sort((a, b) => a.fileOffset - b.fileOffset)) {
      if (part.fileOffset !== expected) throw new RangeError(`image parts must be contiguous: part at ${part.fileOffset}, expected ${expected}`);
      let at = part.fileOffset;
      for (const view of part.views) {
        dataPages += writeImagePages(fd, at, view, hash).dataPages;
        at += view.byteLength;
      }
      expected = at;
    }
    if (expected !== totalBytes) throw new RangeError(`image parts cover ${expected} bytes, expected ${totalBytes}`);
    fs.ftruncateSync(fd, totalBytes);
    fs.fsyncSync(fd);
    return { dataPages, sha256: hash.digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}

/** SHA-256 (hex) of byte views taken in order: what a restore checks mapped memory with. */
export function sha256OfViews(views: Iterable<Uint8Array>): string {
  const hash = createHash('sha256');
  for (const v of views) hash.update(v);
  return hash.digest('hex');
}
