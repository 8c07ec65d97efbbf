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
import { settleAll } from '../util/settle-all';
import { CHECKSUM_STRETCH_PAGES, IMAGE_PAGE_SIZE, countSetBits, isPageSet, planMemoryImage, type ImagePlan, type ImageRun, type ImagePart } from './image-plan';

export { IMAGE_PAGE_SIZE, pageMapBytes, isPageSet, type ImagePart } from './image-plan';

const ZERO_PAGE = Buffer.alloc(IMAGE_PAGE_SIZE);
/** Bytes of one page's checksum in `pages.crc`. */
export const PAGE_CHECKSUM_BYTES = 4;
/** A run of the image goes to the disk in pieces of at most this (each one write on the thread pool). */
const WRITE_PIECE_BYTES = 8 * 1024 * 1024;

/** zlib's crc32, loaded on first use (a checkpoint's), not at start-up, where every thread would compile it, from source under `--jitless` (scripts/bench/README.md, `boot`). */
let crc32: ((data: Uint8Array) => number) | undefined;

/** The checksum of one page as `pages.crc` stores it. */
export function pageChecksum(page: Uint8Array): number {
  crc32 ??= nodeZlib().crc32;
  return crc32(page) >>> 0;
}

/** Reports bytes done of a known total, at most every `step` bytes (and always at the end). */
export type BytesProgress = (done: number) => void;

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

/**
 * Computes the checksums of the stored pages, in page order, into `chunks`: one native call
 * (@kvmts/native's pageChecksums) per stretch of CHECKSUM_STRETCH_PAGES pages that holds stored
 * pages, pausing (a yield) after each: the async writer turns the event loop there, the sync one
 * goes on. Stretches with nothing stored are not visited: a link costs its stored pages, not the
 * guest's size (a call per 4 MiB of guest cost an empty link of an 8 GiB guest ~4 ms).
 * `progress` gets the image bytes done.
 */
function* checksumSteps(plan: ImagePlan, chunks: Uint8Array[], progress?: BytesProgress): Generator<void> {
  const step = CHECKSUM_STRETCH_PAGES * IMAGE_PAGE_SIZE;
  for (const { bytes, at, length, stretches } of plan.views) {
    for (const stretch of stretches) {
      // Guest RAM unmapped meanwhile (its views emptied): the image cannot be completed.
      if (bytes.byteLength !== length) throw new CheckpointError(`image offset ${at}`, 'guest memory went away while the image was written', { code: 'io' });
      const off = stretch * step;
      chunks.push(native.pageChecksums(bytes.subarray(off, Math.min(length, off + step)), IMAGE_PAGE_SIZE, plan.pageMap, (at + off) / IMAGE_PAGE_SIZE));
      if (progress && at + off > 0) progress(at + off);
      yield;
    }
  }
}

/** The image's result from its plan and its checksum chunks. */
function imageResult(plan: ImagePlan, chunks: readonly Uint8Array[]): ImageWriteResult {
  // One array of its own (not a view into Node's Buffer pool): callers may read its .buffer.
  const checksums = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    checksums.set(c, at);
    at += c.byteLength;
  }
  const pages = checksums.byteLength / PAGE_CHECKSUM_BYTES;
  const mapped = plan.storedPages;
  if (pages !== mapped) throw new CheckpointError('memory image', `${pages} checksums for the ${mapped} pages of the page map`, { code: 'io' });
  return { pageMap: plan.pageMap, checksums, pages, dataPages: plan.dataPages };
}

/**
 * Create `file` (it must not exist) holding `parts` sparsely, `totalBytes` long, fsynced.
 * Parts must cover the image contiguously in file order. `progress` receives the image bytes
 * done so far. `whenSummed`, when given, is called with the result as soon as the checksums are
 * done — usually while the image is still being written — and its promise is waited for too:
 * the checkpoint writes its page map and checksum files there, their fsyncs beside the image's.
 *
 * The disk and this thread work at once: the runs of stored non-zero pages go to libuv's
 * thread pool as writes, then the fsync; the stored pages' checksums are computed meanwhile.
 * (Done one after the other — write, checksum, fsync — a save took about twice as long as `cp`
 * of the same bytes followed by a sync.) The parts' memory must not change until the promise
 * settles (the machine is stopped), and nothing writes it afterwards: every write has ended,
 * failed or not, before it settles.
 */
export async function writeMemoryImage(file: string, parts: readonly ImagePart[], totalBytes: number, progress?: BytesProgress, whenSummed?: (result: ImageWriteResult) => Promise<void>): Promise<ImageWriteResult> {
  const plan = planMemoryImage(parts, totalBytes, WRITE_PIECE_BYTES);
  const out = openImageForDirectWrites(file);
  let synced: Promise<void> | undefined;
  try {
    fs.ftruncateSync(out.fd, totalBytes);
    // One write at a time (several threads writing one file at once wait on its lock), then the
    // fsync; each step continues when this thread turns its event loop, which the checksums
    // below do after each stretch they sum.
    synced = (async () => {
      for (const run of plan.runs) await out.write(run);
      await fsyncAsync(out.fd);
    })();
    let writeFailed = false;
    synced.catch(() => (writeFailed = true)); // awaited below
    const chunks: Uint8Array[] = [];
    for (const _pause of checksumSteps(plan, chunks, progress)) {
      await new Promise((resolve) => setImmediate(resolve));
      if (writeFailed) break; // its error is thrown at once, below
    }
    if (writeFailed) await synced;
    const result = imageResult(plan, chunks);
    await settleAll([synced, (async () => whenSummed?.(result))()]);
    progress?.(totalBytes);
    return result;
  } finally {
    // The writes and the fsync have ended before the file is closed and the memory let go.
    await synced?.catch(() => undefined);
    out.close();
  }
}

/**
 * The image file (created: it must not exist), written with O_DIRECT where the file system
 * takes it: guest RAM goes from its pages to the disk with no copy into the page cache, and the
 * fsync that follows has only metadata left to write — together about the time of the buffered
 * writes' fsync alone. Runs are whole pages at page-aligned file offsets; O_DIRECT also wants
 * page-aligned memory, which guest RAM is (other views may not be). A file system that refuses
 * O_DIRECT at the open (an older tmpfs), or the first write it refuses (EINVAL: an unaligned
 * view), switches the rest to buffered writes on a second fd. (The written pages are then not in
 * the page cache: a restore that maps the image right away reads them from the disk as the guest
 * touches them.)
 */
function openImageForDirectWrites(file: string): { readonly fd: number; write(run: ImageRun): Promise<void>; close(): void } {
  const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = fs.constants;
  const fds: number[] = [];
  let fd: number;
  let direct = O_DIRECT !== undefined;
  try {
    fd = direct ? fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o666) : fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    direct = false;
    // Linux creates the file before it refuses O_DIRECT (a tmpfs before 6.6): open that one.
    fd = fs.openSync(file, O_WRONLY | O_CREAT, 0o666);
  }
  fds.push(fd);
  return {
    get fd() {
      return fd;
    },
    async write(run) {
      try {
        await writeAt(fd, run);
      } catch (e) {
        if (!direct || (e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        direct = false;
        fd = fs.openSync(file, 'r+');
        fds.push(fd);
        await writeAt(fd, run);
      }
    },
    close() {
      for (const f of fds) fs.closeSync(f);
    },
  };
}

/** writeMemoryImage on this thread alone, one step after the other (tools and tests that cannot wait). */
export function writeMemoryImageSync(file: string, parts: readonly ImagePart[], totalBytes: number, progress?: BytesProgress): ImageWriteResult {
  const plan = planMemoryImage(parts, totalBytes, WRITE_PIECE_BYTES);
  const fd = fs.openSync(file, 'wx');
  try {
    fs.ftruncateSync(fd, totalBytes);
    for (const { bytes, offset, length, position } of plan.runs) {
      for (let done = 0; done < length; ) {
        const n = fs.writeSync(fd, bytes, offset + done, length - done, position + done);
        if (n === 0) throw noProgress(position + done);
        done += n;
      }
    }
    const chunks: Uint8Array[] = [];
    for (const _pause of checksumSteps(plan, chunks, progress)) continue;
    fs.fsyncSync(fd);
    progress?.(totalBytes);
    return imageResult(plan, chunks);
  } finally {
    fs.closeSync(fd);
  }
}

/** pwrite(2) of a whole run on the thread pool (a short write is continued). */
async function writeAt(fd: number, { bytes, offset, length, position }: ImageRun): Promise<void> {
  for (let done = 0; done < length; ) {
    const n = await new Promise<number>((resolve, reject) => fs.write(fd, bytes, offset + done, length - done, position + done, (e, written) => (e ? reject(e) : resolve(written))));
    if (n === 0) throw noProgress(position + done);
    done += n;
  }
}

/** A write that wrote nothing (it would be retried for ever). */
function noProgress(position: number): Error {
  return Object.assign(new Error(`writing the memory image at offset ${position} made no progress`), { code: 'EIO' });
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
}

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

/** The index of the first checksum that differs between two lists of equal length (their length in checksums when none does). */
export function firstDifferentChecksum(sums: Uint8Array, expected: Uint8Array): number {
  for (let at = 0; at < sums.byteLength; at += PAGE_CHECKSUM_BYTES) {
    if (Buffer.compare(sums.subarray(at, at + PAGE_CHECKSUM_BYTES), expected.subarray(at, at + PAGE_CHECKSUM_BYTES)) !== 0) return at / PAGE_CHECKSUM_BYTES;
  }
  return sums.byteLength / PAGE_CHECKSUM_BYTES;
}

/** Where the first stored page of `chunk` whose checksum differs is (for damagedPage). */
function firstMismatch(sums: Uint8Array, expected: Uint8Array, pageMap: Uint8Array, firstPage: number, chunk: Uint8Array, t: ImageTarget, regionOffset: number): string {
  const bad = firstDifferentChecksum(sums, expected);
  let slot = 0;
  for (let p = 0; p < chunk.byteLength / IMAGE_PAGE_SIZE; p++) {
    if (!isPageSet(pageMap, firstPage + p)) continue;
    if (slot++ === bad) return `page ${firstPage + p} (region '${t.name}', guest-physical 0x${(t.guestPhysAddr + regionOffset + p * IMAGE_PAGE_SIZE).toString(16)})`;
  }
  return `a page near page ${firstPage} (region '${t.name}')`;
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
  // The stored pages' checksums, a native call per 4 MiB of each region's memory, in page order
  // (regions in file order), compared with the list as one block; a mismatch is then located.
  let index = 0;
  for (const t of [...targets].sort((a, b) => a.fileOffset - b.fileOffset)) {
    let off = 0;
    for (const view of t.views) {
      for (let at = 0; at < view.byteLength; at += CHECKSUM_STRETCH_PAGES * IMAGE_PAGE_SIZE) {
        const chunk = view.subarray(at, Math.min(view.byteLength, at + CHECKSUM_STRETCH_PAGES * IMAGE_PAGE_SIZE));
        const firstPage = (t.fileOffset + off + at) / IMAGE_PAGE_SIZE;
        if (firstPage + chunk.byteLength / IMAGE_PAGE_SIZE > pageMap.length * 8) continue; // beyond the map: nothing stored there
        const sums = native.pageChecksums(chunk, IMAGE_PAGE_SIZE, pageMap, firstPage);
        const expected = checksums.subarray(index * PAGE_CHECKSUM_BYTES, index * PAGE_CHECKSUM_BYTES + sums.byteLength);
        if (expected.byteLength < sums.byteLength) throw new CheckpointError(file, 'has more stored pages than checksums', { code: 'corrupt' });
        if (!sums.equals(expected)) throw damagedPage(file, firstMismatch(sums, expected, pageMap, firstPage, chunk, t, off + at));
        index += sums.byteLength / PAGE_CHECKSUM_BYTES;
        if (progress) progress(index * IMAGE_PAGE_SIZE);
      }
      off += view.byteLength;
    }
  }
  // A stored page no region holds (looked for only when the map holds more pages than were checked).
  if (countSetBits(pageMap, pageMap.length * 8) !== index) {
    for (const page of storedPages(pageMap)) {
      if (!targetPage(targets, page)) throw new CheckpointError(file, `holds page ${page}, outside the machine's memory`, { code: 'corrupt' });
    }
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
