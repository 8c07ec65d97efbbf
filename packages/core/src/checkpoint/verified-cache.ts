/**
 * Checkpoints a restore has read and checked already, kept decoded, so restoring the same
 * checkpoint again (a warm restore, as often as wanted) neither reads, hashes and decodes its
 * manifest and sections again, nor asks about its files one by one.
 *
 * What is kept, per checkpoint directory (as the caller names it): the paths of every file the
 * checkpoint is made of — the directory itself, the manifest, the memory image, the sections' file —
 * with their identity as one native `statMany` Buffer (mode, device, inode, size, mtime and ctime
 * in ns per file; a missing file marked), the manifest as parsed and checked (deep-frozen and
 * handed out as it is), and each section once it was read, checked and decoded. The next open
 * stats the same paths in one call and compares the bytes with one `Buffer.equals`: equal, every
 * kept value is what its file holds; any difference drops the whole entry, and the checkpoint is
 * read and checked again. Integrity stays what it was:
 *
 *   - any write to a file or replacement of it changes its ctime or inode (ctime cannot be set
 *     by a user); a checkpoint swapped in (atomic-dir.ts) changes the directory's and every
 *     file's inode; one that vanishes marks its records missing;
 *   - a value is kept only when its file's identity right after the read is the one recorded
 *     (it did not change before or while it was read);
 *   - "racy" files are not kept (git's racy-clean rule): a file whose ctime is less than RACY_NS
 *     before the read could be rewritten within the same coarse kernel timestamp tick without
 *     changing its times, so it is read and checked again next time.
 *
 * The memory image is never read here (it is mapped; `verifyMemory` reads it every time); its
 * identity is kept, so an unchanged image's kind and size are not asked about again. Section
 * values are the cache's own: callers that change what they get take a copy (checkpoint-files.ts).
 */
import { statMany, statRecord, STAT_RECORD_BYTES } from '@kvmts/native';
import type { CheckpointManifest } from './manifest';

/** A file changed less than this long before it was read is not cached (kernel timestamps are coarse). */
export const RACY_NS = 2_000_000_000n;
/** Checkpoints remembered at once (the least recently opened goes first). */
const MAX_CHECKPOINTS = 64;

/** Where each file of a checkpoint sits in CheckpointFiles.paths (and so in its identity). */
export const DIR_INDEX = 0;
export const MANIFEST_INDEX = 1;
export const IMAGE_INDEX = 2;
export const SECTIONS_INDEX = 3;

/** The files of one checkpoint, joined once: the directory named, its manifest, its image, its sections' file. */
export class CheckpointFiles {
  readonly paths: readonly string[];
  private readonly sectionNames: ReadonlySet<string>;

  constructor(dir: string, manifestPath: string, readonly imagePath: string, readonly sectionsPath: string, sectionNames: readonly string[]) {
    this.paths = [dir, manifestPath, imagePath, sectionsPath];
    this.sectionNames = new Set(sectionNames);
  }

  /** The index in `paths` of the file holding section `name`, or undefined when the manifest has no such section. */
  indexOf(section: string): number | undefined {
    return this.sectionNames.has(section) ? SECTIONS_INDEX : undefined;
  }
}

/** The wall clock in ns, as file times are (a file's ctime is compared with it). */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function racy(identity: Buffer, index: number, readAtNs: bigint): boolean {
  const record = statRecord(identity, index);
  return record.errno !== undefined || readAtNs - record.ctimeNs < RACY_NS;
}

/** Objects and arrays frozen all the way down (a manifest is JSON: nothing else is in it). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** One checkpoint as last checked: its files' identity, its manifest and the sections decoded since. */
export class CheckedCheckpoint {
  private readonly sections = new Map<string, unknown>();

  constructor(
    /** The directory actually read (`<dir>.previous` after an interrupted replacement). */
    readonly location: string,
    readonly manifest: CheckpointManifest,
    readonly files: CheckpointFiles,
    readonly identity: Buffer,
  ) {}

  /** Section `name`'s decoded value, when it was read and kept. */
  section(name: string): unknown {
    return this.sections.get(name);
  }

  /**
   * Keep `value`, decoded from section `name` in a read of its file that started at `readAtNs`,
   * if that file is still the one this checkpoint's identity records and was not racy.
   */
  keepSection(name: string, value: unknown, readAtNs: bigint): void {
    const index = this.files.indexOf(name);
    if (index === undefined || racy(this.identity, index, readAtNs)) return;
    const now = statMany([this.files.paths[index]]);
    if (now.equals(this.identity.subarray(index * STAT_RECORD_BYTES, (index + 1) * STAT_RECORD_BYTES))) this.sections.set(name, value);
  }
}

const checkpoints = new Map<string, CheckedCheckpoint>();

/** The checkpoint at `dir` as checked before, if none of its files changed since; one statMany. */
export function checkedCheckpoint(dir: string): CheckedCheckpoint | undefined {
  const known = checkpoints.get(dir);
  if (known === undefined) return undefined;
  checkpoints.delete(dir);
  if (!statMany(known.files.paths).equals(known.identity)) return undefined;
  checkpoints.set(dir, known); // most recently used last
  return known;
}

/** The time a read starts at, and the manifest's identity then: what rememberCheckpoint needs to know it was not changed under the read. */
export interface ManifestRead {
  readonly readAtNs: bigint;
  readonly before: Buffer;
}

/** Call before reading `manifestPath`. */
export function startManifestRead(manifestPath: string): ManifestRead {
  return { readAtNs: nowNs(), before: statMany([manifestPath]) };
}

/**
 * The checkpoint at `dir` was just read and checked: its manifest (read as `read` says) and
 * `identity` (statMany of `files.paths`, taken after the manifest's read). Kept — and returned —
 * when the manifest did not change under the read and is not racy; otherwise anything kept for
 * `dir` is dropped and undefined returned. The manifest is frozen either way (it is handed out).
 */
export function rememberCheckpoint(dir: string, location: string, manifest: CheckpointManifest, files: CheckpointFiles, identity: Buffer, read: ManifestRead): CheckedCheckpoint | undefined {
  deepFreeze(manifest);
  checkpoints.delete(dir);
  const manifestNow = identity.subarray(MANIFEST_INDEX * STAT_RECORD_BYTES, (MANIFEST_INDEX + 1) * STAT_RECORD_BYTES);
  if (!manifestNow.equals(read.before) || racy(identity, MANIFEST_INDEX, read.readAtNs)) return undefined;
  const known = new CheckedCheckpoint(location, manifest, files, identity);
  checkpoints.set(dir, known);
  if (checkpoints.size > MAX_CHECKPOINTS) checkpoints.delete(checkpoints.keys().next().value as string);
  return known;
}

/** The time a section's read starts at (CheckedCheckpoint.keepSection). */
export function readStart(): bigint {
  return nowNs();
}

/** Forget every checked checkpoint (tests; a caller that wants every restore to read everything). */
export function clearVerifiedCache(): void {
  checkpoints.clear();
}
