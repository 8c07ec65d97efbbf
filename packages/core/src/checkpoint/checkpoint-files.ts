/**
 * The files of one checkpoint directory:
 *
 *   manifest.json        versioned manifest with its own checksum (manifest.ts)
 *   memory.img           sparse memory image (memory-image.ts)
 *   pages.bin            its page map: which pages it stores
 *   pages.crc            the CRC-32 of each stored page
 *   sections.jsonl       one component's state per line, tagged JSON (tagged-json.ts); each
 *                        line's offset, length and SHA-256 in the manifest
 *
 * CheckpointWriter fills a (temporary) directory, fsyncing every file and the directory (its
 * async `write` all at once on the thread pool: synced-files.ts); CheckpointReader opens
 * one, validates the manifest and hands out sections after checking their size and checksum, so
 * a flipped byte anywhere is reported with the section it hit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../errors/errors';
import { decodeSection, encodeSection } from './tagged-json';
import { writeMemoryImage, writeMemoryImageSync, IMAGE_PAGE_SIZE, type ImageWriteResult, PAGE_CHECKSUM_BYTES, pageMapBytes, type BytesProgress, type ImagePart } from './memory-image';
import { checkpointLocation, fsyncPath } from './atomic-dir';
import { closeAll, createNewFiles, fsyncPaths, writeFileSynced, writeFilesSynced, type FileToWrite } from './synced-files';
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
  SECTIONS_FILE,
  parseManifest,
  sectionsFileBytes,
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

/** What ends each line of SECTIONS_FILE. */
const NEWLINE = 0x0a;

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
  /** Each section's bytes, in order: SECTIONS_FILE's lines. */
  private readonly sectionLines: Uint8Array[] = [];
  private sectionsLength = 0;
  private memory: ManifestMemory | undefined;

  constructor(readonly dir: string) {}

  /** Encode `data` (plain data) as section `name`, written by `finish`. Encoding failures name the section (`not-saveable`). */
  addSection(name: string, version: number, data: unknown): void {
    this.recordSection(name, version, data);
  }

  /**
   * Encode every section and enter it in the manifest's list, writing nothing: a section that
   * cannot be encoded throws (`not-saveable`, named) before anything is written (`write` does
   * this before the image's first write, so that an unencodable section fails a save at once).
   */
  recordSections(sections: readonly SectionToWrite[]): void {
    for (const s of sections) this.recordSection(s.name, s.version, s.data);
  }

  /** Encode a section and enter it in the manifest's list. */
  private recordSection(name: string, version: number, data: unknown): void {
    if (this.sections.some((s) => s.name === name)) throw new CheckpointError(`section '${name}'`, 'two components save under this name', { code: 'not-saveable' });
    const bytes = encodeSection(data, `section '${name}'`);
    this.sections.push({ name, version, offset: this.sectionsLength, bytes: bytes.byteLength, sha256: sha256(bytes) });
    this.sectionLines.push(bytes);
    this.sectionsLength += bytes.byteLength + 1;
  }

  /** SECTIONS_FILE's content: every section's line. */
  private sectionsContent(): Uint8Array {
    const out = new Uint8Array(this.sectionsLength);
    let at = 0;
    for (const line of this.sectionLines) {
      out.set(line, at);
      out[at + line.byteLength] = NEWLINE;
      at += line.byteLength + 1;
    }
    return out;
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

  /** Write the sections' file, then manifest.json last, and fsync the directory; returns the manifest. */
  finish(header: ManifestHeader): CheckpointManifest {
    const manifest = this.manifest(header);
    writeFileSynced(path.join(this.dir, SECTIONS_FILE), this.sectionsContent());
    writeFileSynced(path.join(this.dir, MANIFEST_FILE), serializeManifest(manifest));
    fsyncPath(this.dir);
    return manifest;
  }

  /**
   * The whole checkpoint on the thread pool — sections, memory image (as writeMemory), page map,
   * checksum list, manifest, every file and the directory fsynced — returning the manifest. Only
   * once the promise resolves is the directory a checkpoint: the manifest may be on disk before
   * the image is complete, so fill a temporary directory with it and rename that into place
   * after (`replaceDirectoryAtomically`, as a machine's save does).
   *
   * One round of journal commits. Every file is created first, before any fsync starts (a file
   * created while a commit runs waits for it); the sections' bytes are written and fsynced beside
   * the image's writes; as soon as the checksums are done (usually while the image is still being
   * written) the page map, checksum list and manifest are written and fsynced, and the directory,
   * whose every entry exists by then, beside them. Nothing reads the directory before it is
   * renamed into place, so the fsyncs' order does not matter, only that all have ended. (A file
   * per section, and the manifest and the directories fsynced after the image, cost an empty
   * incremental link 7–11 ms against 6.7–7.7 ms, a 4 MiB link 15–17 ms against 10–13 ms.)
   */
  async write(sections: readonly SectionToWrite[], regions: readonly MemoryToWrite[], parent: { id: string; path: string } | null, header: ManifestHeader, progress?: BytesProgress): Promise<CheckpointManifest> {
    const { parts, bytes } = this.imageParts(regions, parent);
    this.recordSections(sections);
    const files = createNewFiles([SECTIONS_FILE, PAGE_MAP_FILE, PAGE_CHECKSUMS_FILE, MANIFEST_FILE].map((f) => path.join(this.dir, f)));
    const [sectionsFile, pageMapFile, checksumsFile, manifestFile] = files;
    try {
      sectionsFile.write(this.sectionsContent());
      let manifest: CheckpointManifest | undefined;
      const imageWritten = writeMemoryImage(path.join(this.dir, MEMORY_IMAGE_FILE), parts, bytes, progress, async (summed) => {
        this.recordMemory(summed, regions, parent, bytes);
        manifest = this.manifest(header);
        pageMapFile.write(summed.pageMap);
        checksumsFile.write(summed.checksums);
        manifestFile.write(serializeManifest(manifest));
        // The image file exists now (its checksums are done): every entry of the directory does.
        await settleAll([pageMapFile.syncAndClose(), checksumsFile.syncAndClose(), manifestFile.syncAndClose(), fsyncPaths([this.dir])]);
      });
      await settleAll([imageWritten, sectionsFile.syncAndClose()]);
      if (manifest === undefined) throw new CheckpointError(this.dir, 'the memory image was written without its checksums: no manifest', { code: 'io' });
      return manifest;
    } finally {
      closeAll(files); // the ones a failure left open
    }
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

  private sectionsRead: { readonly bytes: Uint8Array; readonly readAt: bigint } | undefined;

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
    if (!fs.existsSync(manifestPath)) throw new CheckpointError(dir, `${MANIFEST_FILE} is missing: not a kvmts checkpoint, or one whose writing never finished (a checkpoint is complete only once its directory is in place)`, { code: 'missing' });
    // The manifest checks itself (its own SHA-256) as it is parsed.
    const manifest = parseManifest(Buffer.from(readCheckpointFile(`${dir}/${MANIFEST_FILE}`, manifestPath, MANIFEST_LIMIT_BYTES)).toString('utf8'), dir);
    const files = new CheckpointFiles(dir, manifestPath, path.join(location, manifest.memory.file), path.join(location, SECTIONS_FILE), manifest.sections.map((s) => s.name));
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

  /** SECTIONS_FILE, read once per reader (a restore reads every section) and when it was read (verified-cache.ts). */
  private sectionsFile(): { readonly bytes: Uint8Array; readonly readAt: bigint } {
    if (this.sectionsRead === undefined) {
      const readAt = readStart();
      // The manifest's sizes bound the read: a larger file is damaged, and is not read whole to find out.
      const bytes = readCheckpointFile(`${this.dir}/${SECTIONS_FILE}`, this.files.sectionsPath, sectionsFileBytes(this.manifest.sections));
      this.sectionsRead = { bytes, readAt };
    }
    return this.sectionsRead;
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
      const where = `${this.dir} section '${name}' (${SECTIONS_FILE} bytes ${entry.offset}–${entry.offset + entry.bytes})`;
      const { bytes: all, readAt } = this.sectionsFile();
      const bytes = all.subarray(entry.offset, entry.offset + entry.bytes);
      if (bytes.byteLength !== entry.bytes || all.byteLength === entry.offset + entry.bytes) throw new CheckpointError(where, `${SECTIONS_FILE} ends after ${all.byteLength} bytes, inside this section or its newline: damaged`, { code: 'corrupt' });
      // The newline is no section's bytes, so no checksum covers it: a damaged one is caught here.
      if (all[entry.offset + entry.bytes] !== NEWLINE) throw new CheckpointError(where, 'is not followed by a newline: the sections file is damaged', { code: 'corrupt' });
      if (sha256(bytes) !== entry.sha256) throw new CheckpointError(where, 'checksum mismatch: the section is damaged', { code: 'corrupt' });
      data = decodeSection(bytes, where);
      this.checked?.keepSection(name, data, readAt);
    }
    // `shared`: the caller only reads it (or hands it to postMessage, which clones): the kept value itself will do.
    return { version: entry.version, data: options.shared ? data : copyPlainData(data) };
  }
}
