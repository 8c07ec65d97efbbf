/**
 * The checkpoint manifest (`manifest.json`): what a checkpoint is, checked before anything of it
 * is used. Validation order matters for the error a user sees: not a kvmts checkpoint (magic),
 * another format version, then integrity (the manifest's own checksum), then the architecture.
 */
import { CheckpointError } from '../errors/errors';
import type { CpuFingerprint } from './fingerprint';
import { createSha256 } from '../util/lazy-builtins';

/** A SHA-256 hash (node:crypto loaded at the first checkpoint: ../util/lazy-builtins.ts). */
const sha256 = createSha256;

export const CHECKPOINT_MAGIC = 'kvmts-checkpoint';
/** Bump when the layout of the directory or of the manifest changes incompatibly. */
export const CHECKPOINT_FORMAT_VERSION = 3;
export const MANIFEST_FILE = 'manifest.json';
export const MEMORY_IMAGE_FILE = 'memory.img';
/** The image's page map: one bit per image page, set for the pages this checkpoint stores. */
export const PAGE_MAP_FILE = 'pages.bin';
/** CRC-32 of each stored page, in page order, 4 bytes little-endian each (memory-image.ts). */
export const PAGE_CHECKSUMS_FILE = 'pages.crc';
/**
 * Every section, one after the other, each followed by a newline: JSON Lines, one component's
 * state per line, readable with any tool. One file rather than one per section (format 2): each
 * file a save creates costs it a journal commit's worth of work (checkpoint-files.ts).
 */
export const SECTIONS_FILE = 'sections.jsonl';

/** One section: a component's state, a line of SECTIONS_FILE. */
export interface ManifestSection {
  readonly name: string;
  readonly version: number;
  /** Where its bytes start in SECTIONS_FILE: the end of the one before it and its newline. */
  readonly offset: number;
  /** Its length, the newline after it not counted. */
  readonly bytes: number;
  readonly sha256: string;
}

/** A memory region of the saved VM and where its bytes sit in the image. */
export interface ManifestRegion {
  readonly name: string;
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly kvmMap: boolean;
  readonly inAddrMap: boolean;
  readonly confReported: boolean;
  readonly readOnly: boolean;
  readonly dirtyLog: boolean;
  readonly fileOffset: number;
}

/** Where an incremental checkpoint's unchanged pages are: its parent. */
export interface ManifestParent {
  /** The parent's manifest `id`: a parent replaced by another checkpoint is refused. */
  readonly id: string;
  /** The parent directory, relative to this checkpoint's directory (a chain moves as a whole). */
  readonly path: string;
}

export interface ManifestMemory {
  readonly file: string;
  /** Logical length of the image (the file's size; holes included). */
  readonly bytes: number;
  readonly pageSize: number;
  /**
   * Pages stored (bits set in the page map): a full checkpoint's non-zero pages, an incremental
   * one's changed pages (zero ones among them are holes).
   */
  readonly pages: number;
  /** Non-zero pages stored: the ones that take disk space. */
  readonly dataPages: number;
  /** The page map (PAGE_MAP_FILE): one bit per image page, little-endian bit order within each byte. */
  readonly pageMap: typeof PAGE_MAP_FILE;
  readonly pageMapSha256: string;
  /** The stored pages' CRC-32s (PAGE_CHECKSUMS_FILE), in page order. */
  readonly checksums: typeof PAGE_CHECKSUMS_FILE;
  readonly checksumsSha256: string;
  /** null for a full checkpoint; for an incremental one, the checkpoint its pages go over. */
  readonly parent: ManifestParent | null;
  readonly regions: readonly ManifestRegion[];
}

export interface CheckpointManifest {
  readonly magic: typeof CHECKPOINT_MAGIC;
  readonly formatVersion: number;
  /** Random, unique per checkpoint written: what an incremental child names its parent by. */
  readonly id: string;
  readonly arch: string;
  readonly kvmtsVersion: string;
  readonly createdAt: string;
  /** The machine config in tagged JSON (see tagged-json.ts), without the boot payload. */
  readonly config: unknown;
  /** SHA-256 of the boot payload the machine was created with (tagged JSON), or null. */
  readonly bootSha256: string | null;
  readonly vcpus: number;
  readonly cpu: CpuFingerprint;
  readonly memory: ManifestMemory;
  readonly sections: readonly ManifestSection[];
}

/** The checksum over a manifest: SHA-256 of its JSON without the `checksum` field. */
function manifestChecksum(manifest: CheckpointManifest): string {
  return sha256().update(JSON.stringify(manifest)).digest('hex');
}

/** manifest.json's text: the manifest, then its checksum. */
export function serializeManifest(manifest: CheckpointManifest): string {
  return JSON.stringify({ ...manifest, checksum: manifestChecksum(manifest) }, null, 2) + '\n';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field<T>(m: Record<string, unknown>, key: string, check: (v: unknown) => boolean, what: string, where: string): T {
  const v = m[key];
  if (!check(v)) throw new CheckpointError(where, `manifest field '${key}' is ${JSON.stringify(v) ?? 'missing'}, expected ${what}`, { code: 'corrupt' });
  return v as T;
}

const isString = (v: unknown) => typeof v === 'string';
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHash = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isId = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);

/**
 * Parse and validate manifest.json's text. `where` names the checkpoint in errors. Checks, in
 * order: JSON, magic, format version (`format-version`), checksum (`corrupt`), then the shape
 * of every field (`corrupt`, naming the field).
 */
export function parseManifest(text: string, where: string): CheckpointManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(where, `${MANIFEST_FILE} is not valid JSON (${(e as Error).message}): the checkpoint is damaged`, { code: 'corrupt', cause: e });
  }
  if (!isRecord(raw) || raw.magic !== CHECKPOINT_MAGIC) {
    throw new CheckpointError(where, `${MANIFEST_FILE} is not a kvmts checkpoint manifest (magic is ${JSON.stringify(isRecord(raw) ? raw.magic : raw)}, expected '${CHECKPOINT_MAGIC}')`, { code: 'corrupt' });
  }
  if (raw.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(where, `checkpoint format version ${JSON.stringify(raw.formatVersion)} (written by kvmts ${String(raw.kvmtsVersion)}) is not the version this kvmts reads (${CHECKPOINT_FORMAT_VERSION}): restore it with a kvmts of that format version`, { code: 'format-version' });
  }
  const { checksum, ...rest } = raw;
  const manifest = rest as unknown as CheckpointManifest;
  if (checksum !== manifestChecksum(manifest)) {
    throw new CheckpointError(`${where}/${MANIFEST_FILE}`, 'checksum mismatch: the manifest was modified or damaged', { code: 'corrupt' });
  }
  field(raw, 'id', isId, 'a 32-digit hex checkpoint id', where);
  field(raw, 'arch', isString, 'an architecture name', where);
  field(raw, 'kvmtsVersion', isString, 'a version', where);
  field(raw, 'vcpus', (v) => isCount(v) && (v as number) > 0, 'a vCPU count', where);
  field(raw, 'config', isRecord, 'an object', where);
  field(raw, 'bootSha256', (v) => v === null || isHash(v), 'a SHA-256 or null', where);
  const cpu = field<Record<string, unknown>>(raw, 'cpu', isRecord, 'a CPU fingerprint', where);
  field(cpu, 'kind', isString, 'a fingerprint kind', `${where} cpu`);
  for (const k of ['identity', 'features'] as const) {
    const rec = field<Record<string, unknown>>(cpu, k, isRecord, 'an object of strings', `${where} cpu`);
    for (const key of Object.keys(rec)) field(rec, key, isString, 'a string', `${where} cpu.${k}`);
  }
  for (const [key, v] of Object.entries(field<Record<string, unknown>>(cpu, 'features', isRecord, '', where))) {
    if (!/^0x[0-9a-f]+$/.test(String(v))) throw new CheckpointError(where, `manifest cpu.features['${key}'] is ${JSON.stringify(v)}, expected a hex bitmask`, { code: 'corrupt' });
  }
  const memory = field<Record<string, unknown>>(raw, 'memory', isRecord, 'a memory image description', where);
  const mw = `${where} memory`;
  field(memory, 'file', (v) => v === MEMORY_IMAGE_FILE, `'${MEMORY_IMAGE_FILE}'`, mw);
  const bytes = field<number>(memory, 'bytes', isCount, 'a byte count', mw);
  field(memory, 'pageSize', (v) => v === 4096, '4096', mw);
  field(memory, 'pages', isCount, 'a page count', mw);
  field(memory, 'dataPages', isCount, 'a page count', mw);
  field(memory, 'pageMap', (v) => v === PAGE_MAP_FILE, `'${PAGE_MAP_FILE}'`, mw);
  field(memory, 'pageMapSha256', isHash, 'a SHA-256', mw);
  field(memory, 'checksums', (v) => v === PAGE_CHECKSUMS_FILE, `'${PAGE_CHECKSUMS_FILE}'`, mw);
  field(memory, 'checksumsSha256', isHash, 'a SHA-256', mw);
  const parent = field<Record<string, unknown> | null>(memory, 'parent', (v) => v === null || isRecord(v), 'null or a parent description', mw);
  if (parent !== null) {
    const pw = `${mw}.parent`;
    field(parent, 'id', isId, 'a 32-digit hex checkpoint id', pw);
    field(parent, 'path', (v) => typeof v === 'string' && v.length > 0, 'a relative directory', pw);
  }
  const regions = field<unknown[]>(memory, 'regions', Array.isArray, 'an array', mw);
  let offset = 0;
  regions.forEach((r, i) => {
    const rw = `${mw}.regions[${i}]`;
    if (!isRecord(r)) throw new CheckpointError(rw, 'is not an object', { code: 'corrupt' });
    field(r, 'name', isString, 'a name', rw);
    field(r, 'guestPhysAddr', isCount, 'an address', rw);
    const size = field<number>(r, 'size', (v) => isCount(v) && (v as number) % 4096 === 0, 'a page multiple', rw);
    for (const flag of ['kvmMap', 'inAddrMap', 'confReported', 'readOnly', 'dirtyLog']) field(r, flag, (v) => typeof v === 'boolean', 'a boolean', rw);
    field(r, 'fileOffset', (v) => v === offset, `${offset} (regions follow each other)`, rw);
    offset += size;
  });
  if (offset !== bytes) throw new CheckpointError(mw, `regions cover ${offset} bytes, the image has ${bytes}`, { code: 'corrupt' });
  const sections = field<unknown[]>(raw, 'sections', Array.isArray, 'an array', where);
  const names = new Set<string>();
  let sectionOffset = 0;
  sections.forEach((s, i) => {
    const sw = `${where} sections[${i}]`;
    if (!isRecord(s)) throw new CheckpointError(sw, 'is not an object', { code: 'corrupt' });
    const name = field<string>(s, 'name', isString, 'a name', sw);
    if (names.has(name)) throw new CheckpointError(sw, `section '${name}' appears twice`, { code: 'corrupt' });
    names.add(name);
    field(s, 'version', isCount, 'a version', sw);
    field(s, 'offset', (v) => v === sectionOffset, `${sectionOffset} (sections follow each other, a newline after each)`, sw);
    sectionOffset += field<number>(s, 'bytes', isCount, 'a byte count', sw) + 1;
    field(s, 'sha256', isHash, 'a SHA-256', sw);
  });
  return manifest;
}

/** SECTIONS_FILE's length for `sections`: each one's bytes and its newline. */
export function sectionsFileBytes(sections: readonly ManifestSection[]): number {
  const last = sections.at(-1);
  return last === undefined ? 0 : last.offset + last.bytes + 1;
}
