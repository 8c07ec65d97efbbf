/**
 * The files of one checkpoint directory:
 *
 *   manifest.json        versioned manifest with its own checksum (manifest.ts)
 *   memory.img           sparse memory image (sparse-image.ts)
 *   sections/<n>.json    one component's state each, tagged JSON (tagged-json.ts), SHA-256 in the manifest
 *
 * CheckpointWriter fills a (temporary) directory, fsyncing every file; CheckpointReader opens
 * one, validates the manifest and hands out sections after checking their size and checksum, so
 * a flipped byte anywhere is reported with the section it hit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CheckpointError } from '../errors/errors';
import { decodeSection, encodeSection } from './tagged-json';
import { writeSparseImage, IMAGE_PAGE_SIZE, type ImagePart } from './sparse-image';
import { checkpointLocation, fsyncPath } from './atomic-dir';
import { MANIFEST_LIMIT_BYTES, checkMemoryImage, readCheckpointFile } from './checkpoint-read';
import { writeIncrementalImage, type IncrementPart } from './incremental-image';
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAGIC,
  MANIFEST_FILE,
  MEMORY_IMAGE_FILE,
  PAGE_MAP_FILE,
  parseManifest,
  serializeManifest,
  type CheckpointManifest,
  type ManifestMemory,
  type ManifestRegion,
  type ManifestSection,
} from './manifest';

const SECTIONS_DIR = 'sections';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function writeFileSynced(file: string, bytes: Uint8Array | string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The manifest fields a writer's caller supplies (the writer adds magic, version, memory and sections). */
export type ManifestHeader = Omit<CheckpointManifest, 'magic' | 'formatVersion' | 'id' | 'memory' | 'sections'>;

/** A region to write: its manifest entry (without the offset) and its bytes. */
export type RegionToWrite = Omit<ManifestRegion, 'fileOffset'> & { readonly views: readonly Uint8Array[] };

/** Writes one checkpoint into an empty directory (the atomic replacement is the caller's: atomic-dir.ts). */
export class CheckpointWriter {
  private readonly sections: ManifestSection[] = [];
  private memory: ManifestMemory | undefined;

  constructor(readonly dir: string) {
    fs.mkdirSync(path.join(dir, SECTIONS_DIR));
  }

  /** Encode `data` (plain data) as section `name`. Encoding failures name the section (`not-saveable`). */
  addSection(name: string, version: number, data: unknown): void {
    if (this.sections.some((s) => s.name === name)) throw new CheckpointError(`section '${name}'`, 'two components save under this name', { code: 'not-saveable' });
    const bytes = encodeSection(data, `section '${name}'`);
    const file = `${SECTIONS_DIR}/${this.sections.length}.json`;
    writeFileSynced(path.join(this.dir, file), bytes);
    this.sections.push({ name, file, version, bytes: bytes.byteLength, sha256: sha256(bytes) });
  }

  /** Write the memory image: each region's bytes (as views) one after another. */
  writeMemory(regions: readonly RegionToWrite[]): void {
    let offset = 0;
    const parts: ImagePart[] = [];
    const described: ManifestRegion[] = [];
    for (const { views, ...r } of regions) {
      parts.push({ fileOffset: offset, views });
      described.push({ ...r, fileOffset: offset });
      offset += r.size;
    }
    const { dataPages, sha256: digest } = writeSparseImage(path.join(this.dir, MEMORY_IMAGE_FILE), parts, offset);
    this.memory = { file: MEMORY_IMAGE_FILE, bytes: offset, pageSize: IMAGE_PAGE_SIZE, dataPages, sha256: digest, parent: null, regions: described };
  }

  /**
   * Write an incremental memory image over the checkpoint `parent` (its id; `parentPath` relative
   * to the final checkpoint directory): only the pages `changed` marks in each region (null:
   * every page), plus the page map. Returns the pages stored.
   */
  writeIncrementalMemory(regions: readonly (RegionToWrite & { readonly changed: Uint8Array | null })[], parent: { id: string; path: string }): number {
    let offset = 0;
    const parts: IncrementPart[] = [];
    const described: ManifestRegion[] = [];
    for (const { views, changed, ...r } of regions) {
      parts.push({ fileOffset: offset, views, changed });
      described.push({ ...r, fileOffset: offset });
      offset += r.size;
    }
    const result = writeIncrementalImage(path.join(this.dir, MEMORY_IMAGE_FILE), parts, offset);
    writeFileSynced(path.join(this.dir, PAGE_MAP_FILE), result.pageMap);
    this.memory = {
      file: MEMORY_IMAGE_FILE,
      bytes: offset,
      pageSize: IMAGE_PAGE_SIZE,
      dataPages: result.dataPages,
      sha256: result.sha256,
      parent: { id: parent.id, path: parent.path, pageMap: PAGE_MAP_FILE, pageMapSha256: sha256(result.pageMap), pages: result.pages },
      regions: described,
    };
    return result.pages;
  }

  /** Write manifest.json last and fsync the directories; returns the manifest. */
  finish(header: ManifestHeader): CheckpointManifest {
    if (!this.memory) throw new CheckpointError(this.dir, 'no memory image was written', { code: 'not-saveable' });
    const manifest: CheckpointManifest = { magic: CHECKPOINT_MAGIC, formatVersion: CHECKPOINT_FORMAT_VERSION, id: randomBytes(16).toString('hex'), ...header, memory: this.memory, sections: this.sections };
    writeFileSynced(path.join(this.dir, MANIFEST_FILE), serializeManifest(manifest));
    fsyncPath(path.join(this.dir, SECTIONS_DIR));
    fsyncPath(this.dir);
    return manifest;
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
    readonly manifest: CheckpointManifest,
  ) {}

  /** Open the checkpoint at `dir`. `missing` when there is none; manifest errors as parseManifest. */
  static open(dir: string): CheckpointReader {
    const location = checkpointLocation(dir);
    if (!fs.existsSync(location)) throw new CheckpointError(dir, 'no checkpoint here (the directory does not exist)', { code: 'missing' });
    const manifestPath = path.join(location, MANIFEST_FILE);
    if (!fs.existsSync(manifestPath)) throw new CheckpointError(dir, `${MANIFEST_FILE} is missing: not a kvmts checkpoint, or one whose writing never finished`, { code: 'missing' });
    const manifest = parseManifest(Buffer.from(readCheckpointFile(`${dir}/${MANIFEST_FILE}`, manifestPath, MANIFEST_LIMIT_BYTES)).toString('utf8'), dir);
    const image = path.join(location, manifest.memory.file);
    if (!fs.existsSync(image)) throw new CheckpointError(`${dir}/${manifest.memory.file}`, 'the memory image is missing', { code: 'missing' });
    checkMemoryImage(`${dir}/${manifest.memory.file}`, image, manifest.memory.bytes);
    return new CheckpointReader(location, manifest);
  }

  get memoryImagePath(): string {
    return path.join(this.dir, this.manifest.memory.file);
  }

  has(name: string): boolean {
    return this.manifest.sections.some((s) => s.name === name);
  }

  /** Section `name`, verified (size, SHA-256) and decoded. */
  section(name: string): SectionState {
    const entry = this.manifest.sections.find((s) => s.name === name);
    if (!entry) throw new CheckpointError(`${this.dir} section '${name}'`, 'is not in this checkpoint (was it saved by a machine without this component?)', { code: 'missing' });
    const where = `${this.dir} section '${name}' (${entry.file})`;
    const file = path.join(this.dir, entry.file);
    // The manifest's size bounds the read: a larger file is damaged, and is not read whole to find out.
    const bytes = readCheckpointFile(where, file, entry.bytes);
    if (bytes.byteLength !== entry.bytes) throw new CheckpointError(where, `is ${bytes.byteLength} bytes, the manifest says ${entry.bytes}: damaged`, { code: 'corrupt' });
    if (sha256(bytes) !== entry.sha256) throw new CheckpointError(where, 'checksum mismatch: the section is damaged', { code: 'corrupt' });
    return { version: entry.version, data: decodeSection(bytes, where) };
  }
}
