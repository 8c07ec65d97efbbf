/**
 * Applying incremental memory images: a checkpoint that holds only the pages changed since its
 * parent (written by memory-image.ts with a `changed` map per region).
 *
 * A restore maps the chain's base (full) image MAP_PRIVATE as guest RAM, then copies each link's
 * pages over it, oldest first (applyIncrement): the pages a link holds are read once, in runs,
 * and checked against their CRC-32; every other page still comes lazily from the base file.
 */
import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { CheckpointError } from '../errors/errors';
import { IMAGE_PAGE_SIZE, PAGE_CHECKSUM_BYTES, damagedPage, firstDifferentChecksum, storedPages, targetPage, type BytesProgress, type ImageTarget } from './memory-image';
import { CHECKSUM_STRETCH_PAGES, bitRange, countSetBits, forEachSetBit } from './image-plan';


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
 *
 * Consecutive stored pages are read as one run straight into guest RAM (at most
 * CHECKSUM_STRETCH_PAGES pages per read) and checksummed with one native call. A page at a time —
 * a read, a JavaScript CRC call and a description of the page each — a 64 MiB link took 100–140
 * ms to apply, in runs 65–110 ms; the rest is the disk: the link's pages are read, and so are the
 * base image's pages beneath them (writing a page of a private file mapping reads it first).
 */
export function applyIncrement(source: IncrementSource, targets: readonly ImageTarget[], progress?: BytesProgress): number {
  if (source.checksums.byteLength !== source.pages * PAGE_CHECKSUM_BYTES) {
    throw new CheckpointError(source.where, `has ${source.checksums.byteLength / PAGE_CHECKSUM_BYTES} page checksums, the manifest says ${source.pages} pages`, { code: 'corrupt' });
  }
  // Every stored page must be in the machine's memory, and their count the manifest's — known
  // before any page is copied (the checksums are consumed in page order below).
  const stored = countSetBits(source.pageMap, source.pageMap.length * 8);
  const ordered = [...targets].sort((a, b) => a.fileOffset - b.fileOffset);
  const inTargets = ordered.reduce((n, t) => n + countSetBits(bitRange(source.pageMap, t.fileOffset / IMAGE_PAGE_SIZE, t.size / IMAGE_PAGE_SIZE), t.size / IMAGE_PAGE_SIZE), 0);
  if (inTargets !== stored) {
    for (const page of storedPages(source.pageMap)) {
      if (!targetPage(targets, page)) throw new CheckpointError(source.where, `holds page ${page}, outside the machine's memory`, { code: 'corrupt' });
    }
  }
  if (stored !== source.pages) throw new CheckpointError(source.where, `page map holds ${stored} pages, the manifest says ${source.pages}`, { code: 'corrupt' });
  let copied = 0;
  for (const t of ordered) {
    let viewPage = t.fileOffset / IMAGE_PAGE_SIZE;
    for (const view of t.views) {
      const pages = view.byteLength / IMAGE_PAGE_SIZE;
      for (const [first, end] of pageRuns(bitRange(source.pageMap, viewPage, pages), pages, CHECKSUM_STRETCH_PAGES)) {
        const run = view.subarray(first * IMAGE_PAGE_SIZE, end * IMAGE_PAGE_SIZE);
        readRun(source, run, viewPage + first);
        const sums = native.pageChecksums(run, IMAGE_PAGE_SIZE);
        const expected = source.checksums.subarray(copied * PAGE_CHECKSUM_BYTES, (copied + end - first) * PAGE_CHECKSUM_BYTES);
        if (!sums.equals(expected)) {
          const bad = firstDifferentChecksum(sums, expected);
          throw damagedPage(source.where, targetPage(targets, viewPage + first + bad)!.where);
        }
        copied += end - first;
        progress?.(copied * IMAGE_PAGE_SIZE);
      }
      viewPage += pages;
    }
  }
  return copied;
}

/** The runs [first, end) of consecutive set bits below `limit`, none longer than `maxRun`. */
function pageRuns(bitmap: Uint8Array, limit: number, maxRun: number): [number, number][] {
  const runs: [number, number][] = [];
  forEachSetBit(bitmap, limit, (p) => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === p && p - last[0] < maxRun) last[1] = p + 1;
    else runs.push([p, p + 1]);
  });
  return runs;
}

/** Read image pages from `firstPage` on into `run` (whole pages), continuing short reads. */
function readRun(source: IncrementSource, run: Uint8Array, firstPage: number): void {
  for (let done = 0; done < run.byteLength; ) {
    const n = fs.readSync(source.imageFd, run, done, run.byteLength - done, firstPage * IMAGE_PAGE_SIZE + done);
    if (n === 0) throw new CheckpointError(source.where, `ends inside page ${firstPage + Math.floor(done / IMAGE_PAGE_SIZE)}`, { code: 'corrupt' });
    done += n;
  }
}
