/**
 * Applying incremental memory images: a checkpoint that holds only the pages changed since its
 * parent (written by memory-image.ts with a `changed` map per region).
 *
 * A restore maps the chain's base (full) image MAP_PRIVATE as guest RAM, then copies each link's
 * pages over it, oldest first (applyIncrement): the pages a link holds are read once and checked
 * against their CRC-32, every other page still comes lazily from the base file.
 */
import * as fs from 'node:fs';
import { CheckpointError } from '../errors/errors';
import { IMAGE_PAGE_SIZE, PAGE_CHECKSUM_BYTES, damagedPage, pageChecksum, storedPages, targetPage, type BytesProgress, type ImageTarget } from './memory-image';


/** One link to apply: its image file, its page map, and the checksums of its stored pages. */
export interface IncrementSource {
  /** Names the link in errors (`<dir>/memory.img`). */
  readonly where: string;
  readonly imageFd: number;
  readonly pageMap: Uint8Array;
  readonly checksums: Uint8Array;
  /** Pages the manifest says the link holds. */
  readonly pages: number;
}

/**
 * Copy a link's pages from its image into guest RAM, each checked against its CRC-32 (`corrupt`
 * naming the image and the page otherwise). Returns the pages copied.
 */
export function applyIncrement(source: IncrementSource, targets: readonly ImageTarget[], progress?: BytesProgress): number {
  const sums = new DataView(source.checksums.buffer, source.checksums.byteOffset, source.checksums.byteLength);
  if (source.checksums.byteLength !== source.pages * PAGE_CHECKSUM_BYTES) {
    throw new CheckpointError(source.where, `has ${source.checksums.byteLength / PAGE_CHECKSUM_BYTES} page checksums, the manifest says ${source.pages} pages`, { code: 'corrupt' });
  }
  let copied = 0;
  for (const page of storedPages(source.pageMap)) {
    const dest = targetPage(targets, page);
    if (!dest) throw new CheckpointError(source.where, `holds page ${page}, outside the machine's memory`, { code: 'corrupt' });
    if (copied >= source.pages) throw new CheckpointError(source.where, `page map holds more pages than the manifest's ${source.pages}`, { code: 'corrupt' });
    let done = 0;
    while (done < IMAGE_PAGE_SIZE) {
      const n = fs.readSync(source.imageFd, dest.bytes, done, IMAGE_PAGE_SIZE - done, page * IMAGE_PAGE_SIZE + done);
      if (n === 0) throw new CheckpointError(source.where, `ends inside page ${page}`, { code: 'corrupt' });
      done += n;
    }
    if (pageChecksum(dest.bytes) !== sums.getUint32(copied * PAGE_CHECKSUM_BYTES, true)) throw damagedPage(source.where, dest.where);
    copied++;
    if (progress && (copied & 2047) === 0) progress(copied * IMAGE_PAGE_SIZE);
  }
  if (copied !== source.pages) throw new CheckpointError(source.where, `page map holds ${copied} pages, the manifest says ${source.pages}`, { code: 'corrupt' });
  return copied;
}
