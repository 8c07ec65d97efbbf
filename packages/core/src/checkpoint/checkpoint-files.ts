/**
 * The files of one checkpoint directory:
 *
 *   manifest.json        versioned manifest with its own checksum (manifest.ts)
 *   memory.img           sparse memory image (memory-image.ts)
 *   pages.bin            its page map: which pages it stores
 *   pages.crc            the CRC-32 of each stored page
 *   sections/<n>.json    one component's state each, tagged JSON (tagged-json.ts), SHA-256 in the manifest
 *
 * CheckpointWriter fills a (temporary) directory, fsyncing every file (its async methods fsync
 * them all at once on the thread pool: synced-files.ts); CheckpointReader opens
 * one, validates the manifest and hands out sections after checking their size and checksum, so
 * a flipped byte anywhere is reported with the section it hit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../errors/errors';
import { decodeSection, encodeSection } from './tagged-json';
import { writeMemoryImage, writeMemoryImageSync, IMAGE_PAGE_SIZE, type ImageWriteResult, PAGE_CHECKSUM_BYTES, pageMapBytes, type BytesProgress, type ImagePart } from './memory-image';
import { checkpointLocation, fsyncPath } from './atomic-dir';
import { fsyncPaths, writeFileSynced, writeFilesSynced, type FileToWrite } from './synced-files';
import { MANIFEST_LIMIT_BYTES, checkMemoryImageRecord, readCheckpointFile } from './checkpoint-read';
import { CheckpointFiles, IMAGE_INDEX, checkedCheckpoint, readStart, rememberCheckpoint, startManifestRead, type CheckedCheckpoint } from './verified-cache';
import { copyPlainData } from '../cpu/thread-context';
import { statMany, statRecord } from '@kvmts/native';
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAGIC,
  MANIFEST_FILE,
  MEMORY_IMAGE_FILE,
  PAGE_MAP_FILE,
  PAGE_CHECKSUMS_FILE,
  parseManifest,
  serializeManifest,
  type CheckpointManifest,
  type ManifestMemory,
  type ManifestRegion,
  type ManifestSection,
} from './manifest';
import { nodeCrypto } from '../util/lazy-builtins';
import { settleAll } from '../util/settle-all';

/** node:crypto, loaded on first use (a checkpoint: ../util/lazy-builtins.ts). */
const crypto = nodeCrypto;

const SECTIONS_DIR = 'sections';

function sha256(bytes: Uint8Array): string {
  return crypto().createHash('sha256').update(bytes).digest('hex');
}

/** The manifest fields a writer's caller supplies (the writer adds magic, version, memory and sections). */
export type ManifestHeader = Omit<CheckpointManifest, 'magic' | 'formatVersion' | 'id' | 'memory' | 'sections'>;

/** A region to write: its manifest entry (without the offset) and its bytes. */
export type RegionToWrite = Omit<ManifestRegion, 'fileOffset'> & {
  readonly views: readonly Uint8Array[];
  /** The views are anonymous private memory: never-written pages may be skipped unread (memory-image.ts). */
  readonly anonymous?: boolean;
};

/** A region to write, and for an incremental image its changed pages (memory-image.ts's ImagePart.changed). */
type MemoryToWrite = RegionToWrite & { readonly changed?: Uint8Array | 'all' };

/** A component's state to save as a section. */
export interface SectionToWrite {
  readonly name: string;
  readonly version: number;
  readonly data: unknown;
}

/** Writes one checkpoint into an empty directory (the atomic replacement is the caller's: atomic-dir.ts). */
export class CheckpointWriter {
  private readonly sections: ManifestSection[] = [];
  private memory: ManifestMemory | undefined;

  constructor(readonly dir: string) {
    fs.mkdirSync(path.join(dir, SECTIONS_DIR));
  }

  /** Encode `data` (plain data) as section `name`. Encoding failures name the section (`not-saveable`). */
  addSection(name: string, version: number, data: unknown): void {
    const { file, bytes } = this.recordSection(name, version, data);
    writeFileSynced(file, bytes);
  }

  /**
   * addSection for many sections, their files fsynced at once on the thread pool:
   * recordSections, then writeFilesSynced of what it returns.
   */
  async writeSections(sections: readonly SectionToWrite[]): Promise<void> {
    await writeFilesSynced(this.recordSections(sections));
  }

  /**
   * Encode every section and enter it in the manifest's list, creating no file: a section that
   * cannot be encoded throws (`not-saveable`, named) before anything is written. Returns the
   * files to create (writeFilesSynced) — a save starts its image's writes in between, so that an
   * unencodable section fails it at once, not after the image.
   */
  recordSections(sections: readonly SectionToWrite[]): FileToWrite[] {
    return sections.map((s) => this.recordSection(s.name, s.version, s.data));
  }

  /** Encode a section and enter it in the manifest's list; returns its file and bytes. */
  private recordSection(name: string, version: number, data: unknown): FileToWrite & { readonly bytes: Uint8Array } {
    if (this.sections.some((s) => s.name === name)) throw new CheckpointError(`section '${name}'`, 'two components save under this name', { code: 'not-saveable' });
    const bytes = encodeSection(data, `section '${name}'`);
    const file = `${SECTIONS_DIR}/${this.sections.length}.json`;
    this.sections.push({ name, file, version, bytes: bytes.byteLength, sha256: sha256(bytes) });
    return { file: path.join(this.dir, file), bytes };
  }

  /**
   * Write the memory image (each region's bytes one after another), its page map and its page
   * checksums. Full (no `parent`): the non-zero pages are stored. Incremental: over the checkpoint
   * `parent` (its id; `path` relative to the final checkpoint directory), only the pages each
   * region's `changed` marks ('all' for a region whose writes are not logged). Returns the pages
   * stored. `progress` receives the image bytes done so far. The writes go to the thread pool
   * while the checksums are computed (memory-image.ts); the regions' memory must not change or
   * go away until the promise settles.
   */
  async writeMemory(regions: readonly MemoryToWrite[], parent: { id: string; path: string } | null = null, progress?: BytesProgress): Promise<number> {
    const { parts, bytes } = this.imageParts(regions, parent);
    const result = await writeMemoryImage(path.join(this.dir, MEMORY_IMAGE_FILE), parts, bytes, progress, (summed) => writeFilesSynced(this.imageIndexFiles(summed)));
    return this.recordMemory(result, regions, parent, bytes);
  }

  /** writeMemory on this thread alone, one step after the other (tools and tests that cannot wait). */
  writeMemorySync(regions: readonly MemoryToWrite[], parent: { id: string; path: string } | null = null, progress?: BytesProgress): number {
    const { parts, bytes } = this.imageParts(regions, parent);
    const result = writeMemoryImageSync(path.join(this.dir, MEMORY_IMAGE_FILE), parts, bytes, progress);
    for (const { file, bytes: content } of this.imageIndexFiles(result)) writeFileSynced(file, content);
    return this.recordMemory(result, regions, parent, bytes);
  }

  /** The image's page map and checksum list files. */
  private imageIndexFiles(result: ImageWriteResult): FileToWrite[] {
    return [
      { file: path.join(this.dir, PAGE_MAP_FILE), bytes: result.pageMap },
      { file: path.join(this.dir, PAGE_CHECKSUMS_FILE), bytes: result.checksums },
    ];
  }

  private imageParts(regions: readonly MemoryToWrite[], parent: { id: string; path: string } | null): { parts: ImagePart[]; bytes: number } {
    let offset = 0;
    const parts: ImagePart[] = [];
    for (const { views, changed, anonymous, name, size } of regions) {
      if (parent !== null && changed === undefined) throw new RangeError(`region '${name}': an incremental image needs its changed pages`);
      parts.push({ fileOffset: offset, views, changed: parent === null ? undefined : changed, anonymous });
      offset += size;
    }
    return { parts, bytes: offset };
  }

  /** The memory entry of the manifest (its files written). */
  private recordMemory(result: ImageWriteResult, regions: readonly MemoryToWrite[], parent: { id: string; path: string } | null, bytes: number): number {
    let offset = 0;
    const described: ManifestRegion[] = regions.map(({ views: _views, changed: _changed, anonymous: _anonymous, ...r }) => {
      const region = { ...r, fileOffset: offset };
      offset += r.size;
      return region;
    });
    this.memory = {
      file: MEMORY_IMAGE_FILE,
      bytes,
      pageSize: IMAGE_PAGE_SIZE,
      pages: result.pages,
      dataPages: result.dataPages,
      pageMap: PAGE_MAP_FILE,
      pageMapSha256: sha256(result.pageMap),
      checksums: PAGE_CHECKSUMS_FILE,
      checksumsSha256: sha256(result.checksums),
      parent,
      regions: described,
    };
    return result.pages;
  }

  /** Write manifest.json last and fsync the directories; returns the manifest. */
  finish(header: ManifestHeader): CheckpointManifest {
    const manifest = this.manifest(header);
    writeFileSynced(path.join(this.dir, MANIFEST_FILE), serializeManifest(manifest));
    fsyncPath(path.join(this.dir, SECTIONS_DIR));
    fsyncPath(this.dir);
    return manifest;
  }

  /** finish, its fsyncs on the thread pool (the two directories' at once). Call it once every other write has settled. */
  async finishAsync(header: ManifestHeader): Promise<CheckpointManifest> {
    const manifest = this.manifest(header);
    // The manifest's entry exists once writeFilesSynced has created it (synchronously), so the
    // directory fsyncs can run beside the manifest's own and share its journal commit.
    const written = writeFilesSynced([{ file: path.join(this.dir, MANIFEST_FILE), bytes: serializeManifest(manifest) }]);
    await settleAll([written, fsyncPaths([path.join(this.dir, SECTIONS_DIR), this.dir])]);
    return manifest;
  }

  private manifest(header: ManifestHeader): CheckpointManifest {
    if (!this.memory) throw new CheckpointError(this.dir, 'no memory image was written', { code: 'not-saveable' });
    return { magic: CHECKPOINT_MAGIC, formatVersion: CHECKPOINT_FORMAT_VERSION, id: crypto().randomBytes(16).toString('hex'), ...header, memory: this.memory, sections: this.sections };
  }
}

/** A decoded section. */
export interface SectionState {
  readonly version: number;
  readonly data: unknown;
}

/** An opened checkpoint: its manifest validated; sections verified as they are read. */
export class CheckpointReader {
  private constructor(
    /** The directory actually read (`<dir>.previous` after an interrupted replacement). */
    readonly dir: string,
    /** Frozen: it may be the one a checked checkpoint hands to every reader of it (verified-cache.ts). */
    readonly manifest: CheckpointManifest,
    private readonly files: CheckpointFiles,
    /** What was read and checked of this checkpoint before, while its files stay unchanged; undefined when it is not kept. */
    private readonly checked: CheckedCheckpoint | undefined,
  ) {}

  /**
   * Open the checkpoint at `dir`. `missing` when there is none; manifest errors as parseManifest.
   * A checkpoint opened before whose files are all unchanged (one statMany: verified-cache.ts)
   * is not read again: its manifest and the sections read since are reused as they were checked.
   */
  static open(dir: string): CheckpointReader {
    const known = checkedCheckpoint(dir);
    if (known) return new CheckpointReader(known.location, known.manifest, known.files, known);
    const location = checkpointLocation(dir);
    const manifestPath = path.join(location, MANIFEST_FILE);
    const read = startManifestRead(manifestPath);
    if (!fs.existsSync(location)) throw new CheckpointError(dir, 'no checkpoint here (the directory does not exist)', { code: 'missing' });
    if (!fs.existsSync(manifestPath)) throw new CheckpointError(dir, `${MANIFEST_FILE} is missing: not a kvmts checkpoint, or one whose writing never finished`, { code: 'missing' });
    // The manifest checks itself (its own SHA-256) as it is parsed.
    const manifest = parseManifest(Buffer.from(readCheckpointFile(`${dir}/${MANIFEST_FILE}`, manifestPath, MANIFEST_LIMIT_BYTES)).toString('utf8'), dir);
    const files = new CheckpointFiles(dir, manifestPath, path.join(location, manifest.memory.file), manifest.sections.map((s) => ({ name: s.name, path: path.join(location, s.file) })));
    // Every file's identity in one call: the image is checked from it, and it is what a later open compares.
    const identity = statMany(files.paths);
    checkMemoryImageRecord(`${dir}/${manifest.memory.file}`, statRecord(identity, IMAGE_INDEX), manifest.memory.bytes);
    return new CheckpointReader(location, manifest, files, rememberCheckpoint(dir, location, manifest, files, identity, read));
  }

  get memoryImagePath(): string {
    return this.files.imagePath;
  }

  /** The image's page map, checked against the manifest (size and SHA-256). */
  pageMap(): Uint8Array {
    const m = this.manifest.memory;
    const bytes = this.memoryFile(m.pageMap, 'page map', m.pageMapSha256, pageMapBytes(m.bytes));
    if (bytes.byteLength !== pageMapBytes(m.bytes)) throw new CheckpointError(`${this.dir}/${m.pageMap}`, `is ${bytes.byteLength} bytes, a ${m.bytes}-byte image needs ${pageMapBytes(m.bytes)}`, { code: 'corrupt' });
    return bytes;
  }

  /** The stored pages' CRC-32s, checked against the manifest (size and SHA-256). */
  pageChecksums(): Uint8Array {
    const m = this.manifest.memory;
    const bytes = this.memoryFile(m.checksums, 'page checksum list', m.checksumsSha256, m.pages * PAGE_CHECKSUM_BYTES);
    if (bytes.byteLength !== m.pages * PAGE_CHECKSUM_BYTES) throw new CheckpointError(`${this.dir}/${m.checksums}`, `is ${bytes.byteLength} bytes, ${m.pages} stored pages need ${m.pages * PAGE_CHECKSUM_BYTES}`, { code: 'corrupt' });
    return bytes;
  }

  /** A file of the memory image, at most `limitBytes` (a larger one is damaged and is not read whole to find out). */
  private memoryFile(name: string, what: string, expected: string, limitBytes: number): Uint8Array {
    const file = path.join(this.dir, name);
    const where = `${this.dir}/${name}`;
    if (!fs.existsSync(file)) throw new CheckpointError(where, `the ${what} of the memory image is missing`, { code: 'missing' });
    const bytes = readCheckpointFile(where, file, limitBytes);
    if (sha256(bytes) !== expected) throw new CheckpointError(where, `checksum mismatch: the ${what} is damaged`, { code: 'corrupt' });
    return bytes;
  }

  has(name: string): boolean {
    return this.manifest.sections.some((s) => s.name === name);
  }

  /**
   * Section `name`, verified (size, SHA-256) and decoded. `shared`: the caller promises not to
   * change the data (it may be the verified cache's own copy; postMessage, which clones, is fine).
   */
  section(name: string, options: { readonly shared?: boolean } = {}): SectionState {
    const entry = this.manifest.sections.find((s) => s.name === name);
    if (!entry) throw new CheckpointError(`${this.dir} section '${name}'`, 'is not in this checkpoint (was it saved by a machine without this component?)', { code: 'missing' });
    // Checked and decoded once while the checkpoint's files are unchanged (verified-cache.ts).
    let data = this.checked?.section(name);
    if (data === undefined) {
      const where = `${this.dir} section '${name}' (${entry.file})`;
      const file = this.files.paths[this.files.indexOf(name)!];
      const readAt = readStart();
      // The manifest's size bounds the read: a larger file is damaged, and is not read whole to find out.
      const bytes = readCheckpointFile(where, file, entry.bytes);
      if (bytes.byteLength !== entry.bytes) throw new CheckpointError(where, `is ${bytes.byteLength} bytes, the manifest says ${entry.bytes}: damaged`, { code: 'corrupt' });
      if (sha256(bytes) !== entry.sha256) throw new CheckpointError(where, 'checksum mismatch: the section is damaged', { code: 'corrupt' });
      data = decodeSection(bytes, where);
      this.checked?.keepSection(name, data, readAt);
    }
    // `shared`: the caller only reads it (or hands it to postMessage, which clones): the kept value itself will do.
    return { version: entry.version, data: options.shared ? data : copyPlainData(data) };
  }
}
