/**
 * The checkpoint format, on real files in a temp directory: the section encoding (golden bytes),
 * the manifest (validation order, checksum), sections verified on read, and the error codes.
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { runInNewContext } from 'node:vm';
import {
  CHECKPOINT_FORMAT_VERSION,
  CheckpointReader,
  CheckpointWriter,
  MANIFEST_FILE,
  decodeSection,
  encodeSection,
  fingerprintMismatches,
  parseManifest,
  serializeManifest,
  type CheckpointManifest,
  type CpuFingerprint,
  type ManifestHeader,
} from '@kvmts/core';
import { thrown } from './support/thrown';

const FINGERPRINT: CpuFingerprint = { kind: 'test-cpu', identity: { vendor: 'Acme', model: '0x2a' }, features: { 'word 0': '0x13' }, digest: '0'.repeat(64) };
const HEADER: ManifestHeader = { arch: 'test-arch', kvmtsVersion: '0.1.0', createdAt: '2026-01-01T00:00:00.000Z', config: { arch: 'test-arch', memory: 8192 }, bootSha256: null, vcpus: 1, cpu: FINGERPRINT };

describe('section encoding (tagged JSON)', () => {
  it('encodes bigint and bytes as tagged values: golden bytes, and back', () => {
    const value = { pc: 0xffff_8000_0000_1000n, neg: -5n, bytes: Uint8Array.of(1, 2, 255), list: [true, null, 'x', 1.5], nested: { skip: undefined, n: 0 } };
    const bytes = encodeSection(value, 'golden');
    expect(Buffer.from(bytes).toString()).toBe('{"pc":{"$bigint":"0xffff800000001000"},"neg":{"$bigint":"-0x5"},"bytes":{"$bytes":"AQL/"},"list":[true,null,"x",1.5],"nested":{"n":0}}');
    expect(decodeSection(bytes, 'golden')).toEqual({ pc: 0xffff_8000_0000_1000n, neg: -5n, bytes: Uint8Array.of(1, 2, 255), list: [true, null, 'x', 1.5], nested: { n: 0 } });
  });

  it('takes plain data made in another realm (what structured clone from a vCPU thread gives)', () => {
    const foreign = runInNewContext('({ list: [1], bytes: new Uint8Array([9, 8]), bare: Object.create(null) })') as object;
    expect(Buffer.from(encodeSection(foreign, 'x')).toString()).toBe('{"list":[1],"bytes":{"$bytes":"CQg="},"bare":{}}');
    expect(() => encodeSection(runInNewContext('new Map()'), 'x')).toThrow(/a Map is not plain data/);
  });

  it.each([
    ['a Map', { m: new Map() }, "section 'x'.m", 'a Map is not plain data'],
    ['a function', { f: () => 1 }, "section 'x'.f", 'a function is not plain data'],
    ['undefined in an array', { a: [1, undefined] }, "section 'x'.a[1]", 'a undefined is not plain data'],
    ['another typed array', { t: new Uint16Array(2) }, "section 'x'.t", 'a Uint16Array is not plain data'],
    ['a reserved key', { $bytes: 'x' }, "section 'x'.$bytes", "keys starting with '$' are reserved"],
    ['NaN', { n: Number.NaN }, "section 'x'.n", 'NaN is not a finite number'],
  ])('refuses %s as not-saveable, naming where it sits', (_what, value, where, message) => {
    const e = thrown(() => encodeSection(value, "section 'x'"));
    expect(e.code).toBe('not-saveable');
    expect(e.path).toBe(where);
    expect(e.message).toContain(message);
  });

  it('reports bytes that are not JSON, or a malformed tag, as corrupt', () => {
    expect(thrown(() => decodeSection(Buffer.from('{"a":'), "section 'x'"))).toMatchObject({ code: 'corrupt', path: "section 'x'" });
    expect(thrown(() => decodeSection(Buffer.from('{"a":{"$bigint":"12"}}'), "section 'x'"))).toMatchObject({ code: 'corrupt', path: "section 'x'.a" });
    expect(thrown(() => decodeSection(Buffer.from('{"a":{"$bytes":"!!"}}'), "section 'x'"))).toMatchObject({ code: 'corrupt', path: "section 'x'.a" });
  });
});

const VCPU_JSON = '{"rip":{"$bigint":"0x8000"},"xsave":{"$bytes":"BwcHBwcHBwcHBwcHBwcHBw=="}}';
const CLOCK_JSON = '{"clock":{"$bigint":"0x75bcd15"}}';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
/** A RAM region's flags as a machine's save passes them. */
const FLAGS = { kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false };
/** One region 'ram' at guest-physical 0 holding `ram`. */
const ramRegion = (ram: Uint8Array) => ({ name: 'ram', guestPhysAddr: 0, size: ram.byteLength, ...FLAGS, views: [ram] });
const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

describe('checkpoint files', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-format-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  /** A checkpoint with two sections and two regions (8 KiB: one data page in each). */
  function write(dir = path.join(work, 'ck')): { dir: string; manifest: CheckpointManifest } {
    fs.mkdirSync(dir);
    const w = new CheckpointWriter(dir);
    w.addSection('vcpu.0', 1, { rip: 0x8000n, xsave: new Uint8Array(16).fill(7) });
    w.addSection('x86.clock', 1, { clock: 123456789n });
    const a = new Uint8Array(4096).fill(0xaa);
    const b = new Uint8Array(8192);
    b[4096 + 5] = 1;
    w.writeMemorySync([
      { name: 'low', guestPhysAddr: 0, size: 4096, ...FLAGS, views: [a] },
      { name: 'high', guestPhysAddr: 0x100000, size: 8192, ...FLAGS, views: [b] },
    ]);
    return { dir, manifest: w.finish(HEADER) };
  }

  it('writes a manifest that reads back: sections with sizes and SHA-256, regions at their file offsets', () => {
    const { dir, manifest } = write();
    expect(manifest.formatVersion).toBe(CHECKPOINT_FORMAT_VERSION);
    expect(manifest.sections).toEqual([
      { name: 'vcpu.0', version: 1, offset: 0, bytes: 74, sha256: sha256(VCPU_JSON) },
      { name: 'x86.clock', version: 1, offset: 75, bytes: 33, sha256: sha256(CLOCK_JSON) },
    ]);
    // One section per line, in the order saved.
    expect(fs.readFileSync(path.join(dir, 'sections.jsonl'), 'utf8')).toBe(`${VCPU_JSON}\n${CLOCK_JSON}\n`);
    expect(fs.readdirSync(dir).sort()).toEqual(['manifest.json', 'memory.img', 'pages.bin', 'pages.crc', 'sections.jsonl']);
    expect(manifest.memory).toMatchObject({ bytes: 12288, dataPages: 2, parent: null, regions: [{ name: 'low', fileOffset: 0 }, { name: 'high', fileOffset: 4096 }] });
    const r = CheckpointReader.open(dir);
    expect(r.manifest).toEqual(manifest);
    expect(r.section('x86.clock')).toEqual({ version: 1, data: { clock: 123456789n } });
    expect(r.section('vcpu.0').data).toEqual({ rip: 0x8000n, xsave: new Uint8Array(16).fill(7) });
  });

  it('write (sections, image and manifest, one round of fsyncs) writes the same files as the sync path', async () => {
    const { dir: syncDir, manifest: syncManifest } = write();
    const dir = path.join(work, 'async');
    fs.mkdirSync(dir);
    const w = new CheckpointWriter(dir);
    const a = new Uint8Array(4096).fill(0xaa);
    const b = new Uint8Array(8192);
    b[4096 + 5] = 1;
    const fdsBefore = openFds();
    const manifest = await w.write(
      [
        { name: 'vcpu.0', version: 1, data: { rip: 0x8000n, xsave: new Uint8Array(16).fill(7) } },
        { name: 'x86.clock', version: 1, data: { clock: 123456789n } },
      ],
      [
        { name: 'low', guestPhysAddr: 0, size: 4096, ...FLAGS, views: [a] },
        { name: 'high', guestPhysAddr: 0x100000, size: 8192, ...FLAGS, views: [b] },
      ],
      null,
      HEADER,
    );
    expect(openFds()).toBe(fdsBefore);
    expect({ ...manifest, id: '' }).toEqual({ ...syncManifest, id: '' });
    expect(fs.readdirSync(dir).sort()).toEqual(['manifest.json', 'memory.img', 'pages.bin', 'pages.crc', 'sections.jsonl']);
    for (const file of ['sections.jsonl', 'memory.img', 'pages.bin', 'pages.crc']) {
      expect(fs.readFileSync(path.join(dir, file)).equals(fs.readFileSync(path.join(syncDir, file)))).toBe(true);
    }
    expect(CheckpointReader.open(dir).manifest).toEqual(manifest);
    expect(CheckpointReader.open(dir).section('x86.clock')).toEqual({ version: 1, data: { clock: 123456789n } });
  });

  it('write: a file in the way (here the manifest) fails it before any write, with no descriptor left open', async () => {
    const dir = path.join(work, 'manifest-taken');
    fs.mkdirSync(dir);
    const w = new CheckpointWriter(dir);
    fs.writeFileSync(path.join(dir, 'manifest.json'), 'in the way');
    const fdsBefore = openFds();
    const ram = new Uint8Array(64 * 4096).fill(5);
    await expect(w.write([{ name: 'a', version: 1, data: { a: 1 } }], [ramRegion(ram)], null, HEADER)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(openFds()).toBe(fdsBefore);
    // Every file is created before anything is written: the image was never started.
    expect(fs.existsSync(path.join(dir, 'memory.img'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toBe('in the way');
  });

  it('write: an image file in the way fails it after the other files exist, every descriptor closed', async () => {
    const dir = path.join(work, 'image-taken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'memory.img'), 'in the way');
    const fdsBefore = openFds();
    const ram = new Uint8Array(16 * 4096).fill(6);
    await expect(new CheckpointWriter(dir).write([{ name: 'a', version: 1, data: { a: 1 } }], [ramRegion(ram)], null, HEADER)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(openFds()).toBe(fdsBefore);
    expect(fs.readdirSync(dir).sort()).toEqual(['manifest.json', 'memory.img', 'pages.bin', 'pages.crc', 'sections.jsonl']);
    expect(fs.statSync(path.join(dir, 'manifest.json')).size).toBe(0); // never written: no checkpoint here
    expect(fs.readFileSync(path.join(dir, 'memory.img'), 'utf8')).toBe('in the way');
  });

  it('write: a failure while the image is written (a progress callback throwing) closes every descriptor and writes no manifest', async () => {
    const dir = path.join(work, 'progress-throws');
    fs.mkdirSync(dir);
    const fdsBefore = openFds();
    const ram = new Uint8Array(2048 * 4096).fill(7); // 8 MiB: the checksums report progress on the way
    const failure = new Error('progress display gone');
    const progress = (done: number): void => {
      if (done > 0) throw failure;
    };
    await expect(new CheckpointWriter(dir).write([], [ramRegion(ram)], null, HEADER, progress)).rejects.toBe(failure);
    expect(openFds()).toBe(fdsBefore);
    expect(fs.statSync(path.join(dir, 'manifest.json')).size).toBe(0);
  });

  it('write refuses an unencodable section before any file exists', async () => {
    const dir = path.join(work, 'refused-write');
    fs.mkdirSync(dir);
    const ram = new Uint8Array(4096).fill(1);
    await expect(new CheckpointWriter(dir).write([{ name: 'dev.socket', version: 1, data: { handle: new Set() } }], [{ name: 'ram', guestPhysAddr: 0, size: 4096, ...FLAGS, views: [ram] }], null, HEADER)).rejects.toMatchObject({
      code: 'not-saveable',
      message: expect.stringContaining("section 'dev.socket'.handle"),
    });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('recordSections refuses a section that is not plain data before any file exists', () => {
    const dir = path.join(work, 'refused');
    fs.mkdirSync(dir);
    const w = new CheckpointWriter(dir);
    const e = thrown(() => w.recordSections([{ name: 'ok', version: 1, data: { a: 1 } }, { name: 'dev.socket', version: 1, data: { handle: new Map() } }]));
    expect(e).toMatchObject({ code: 'not-saveable', message: expect.stringContaining("section 'dev.socket'.handle: a Map is not plain data") });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writeMemory: a page map file that cannot be created fails the write, once the image is written, with no descriptor left open', async () => {
    const dir = path.join(work, 'taken');
    fs.mkdirSync(dir);
    const w = new CheckpointWriter(dir);
    fs.writeFileSync(path.join(dir, 'pages.bin'), 'in the way');
    const fdsBefore = openFds();
    const ram = new Uint8Array(64 * 4096).fill(3);
    await expect(w.writeMemory([ramRegion(ram)])).rejects.toMatchObject({ code: 'EEXIST' });
    expect(openFds()).toBe(fdsBefore);
    expect(fs.statSync(path.join(dir, 'memory.img')).size).toBe(ram.byteLength);
    expect(fs.readFileSync(path.join(dir, 'memory.img')).equals(Buffer.from(ram))).toBe(true); // every write ended before the promise settled
    expect(fs.readFileSync(path.join(dir, 'pages.bin'), 'utf8')).toBe('in the way');
  });

  it('detects a flipped byte in a section and names the section, the others still read', () => {
    const { dir, manifest } = write();
    const file = path.join(dir, 'sections.jsonl');
    const bytes = fs.readFileSync(file);
    bytes[manifest.sections[1].offset + 20] ^= 0x04;
    fs.writeFileSync(file, bytes);
    const r = CheckpointReader.open(dir);
    expect(r.section('vcpu.0').version).toBe(1);
    const e = thrown(() => r.section('x86.clock'));
    expect(e.code).toBe('corrupt');
    expect(e.message).toContain("section 'x86.clock' (sections.jsonl bytes 75–108): checksum mismatch");
  });

  it('a sections file cut short names the section it ends in', () => {
    const { dir } = write();
    fs.truncateSync(path.join(dir, 'sections.jsonl'), 90);
    const r = CheckpointReader.open(dir);
    expect(r.section('vcpu.0').version).toBe(1);
    expect(thrown(() => r.section('x86.clock'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("section 'x86.clock' (sections.jsonl bytes 75–108): sections.jsonl ends after 90 bytes, inside this section or its newline") });
  });

  it('a damaged newline between sections is caught (no checksum covers it)', () => {
    const { dir, manifest } = write();
    const file = path.join(dir, 'sections.jsonl');
    const bytes = fs.readFileSync(file);
    bytes[manifest.sections[0].bytes] = 0x20;
    fs.writeFileSync(file, bytes);
    expect(thrown(() => CheckpointReader.open(dir).section('vcpu.0'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("section 'vcpu.0' (sections.jsonl bytes 0–74): is not followed by a newline") });
    fs.truncateSync(file, bytes.byteLength - 1); // the last newline gone
    expect(thrown(() => CheckpointReader.open(dir).section('x86.clock'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('inside this section or its newline') });
  });

  it('detects a flipped byte in the manifest (its own checksum), a truncated image, missing files', () => {
    const { dir } = write();
    const manifestFile = path.join(dir, MANIFEST_FILE);
    const text = fs.readFileSync(manifestFile, 'utf8');
    fs.writeFileSync(manifestFile, text.replace('"vcpus": 1', '"vcpus": 3'));
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('manifest.json: checksum mismatch') });
    fs.writeFileSync(manifestFile, text);
    fs.truncateSync(path.join(dir, 'memory.img'), 8192);
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('is 8192 bytes, the manifest says 12288') });
    fs.rmSync(path.join(dir, 'memory.img'));
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'missing' });
    fs.rmSync(manifestFile);
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'missing', message: expect.stringContaining('manifest.json is missing') });
    expect(thrown(() => CheckpointReader.open(path.join(work, 'nowhere')))).toMatchObject({ code: 'missing' });
  });

  it('files read through the bounded reader: a FIFO or directory is `corrupt`, an fs failure `io` with the cause, never a raw fs error or a hang', () => {
    const { dir, manifest } = write();
    const section = path.join(dir, 'sections.jsonl');
    fs.rmSync(section);
    execFileSync('mkfifo', [section]); // no writer: a blocking read would never return
    const r = CheckpointReader.open(dir);
    expect(thrown(() => r.section('vcpu.0'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('is not a regular file (a FIFO)') });
    fs.rmSync(section);
    fs.mkdirSync(section);
    expect(thrown(() => r.section('vcpu.0'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('is not a regular file (a directory)') });
    // A larger file than the manifest's size is not read whole to find out.
    fs.rmSync(section, { recursive: true });
    const sectionsBytes = manifest.sections[1].offset + manifest.sections[1].bytes + 1;
    fs.writeFileSync(section, new Uint8Array(sectionsBytes + 1));
    expect(thrown(() => r.section('vcpu.0'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining(`the limit is ${sectionsBytes}`) });
    // A symlink loop: open fails with ELOOP, a filesystem failure.
    fs.rmSync(section);
    fs.symlinkSync(section, section);
    const e = thrown(() => r.section('vcpu.0'));
    expect(e).toMatchObject({ code: 'io', message: expect.stringContaining('ELOOP') });
    expect((e.cause as Error).message).toMatch(/ELOOP/);
  });

  it('a missing sections file is `missing`; a section nobody saved is `missing` naming it', () => {
    const { dir } = write();
    fs.rmSync(path.join(dir, 'sections.jsonl'));
    const r = CheckpointReader.open(dir);
    expect(thrown(() => r.section('vcpu.0'))).toMatchObject({ code: 'missing', message: expect.stringContaining('sections.jsonl') });
    expect(thrown(() => r.section('device.com1'))).toMatchObject({ code: 'missing', message: expect.stringContaining("section 'device.com1'") });
  });
});

describe('manifest validation', () => {
  const base = (): Record<string, unknown> => ({
    magic: 'kvmts-checkpoint',
    formatVersion: 3,
    id: '0123456789abcdef0123456789abcdef',
    ...HEADER,
    memory: { file: 'memory.img', bytes: 4096, pageSize: 4096, pages: 0, dataPages: 0, pageMap: 'pages.bin', pageMapSha256: 'a'.repeat(64), checksums: 'pages.crc', checksumsSha256: 'b'.repeat(64), parent: null, regions: [{ name: 'ram', guestPhysAddr: 0, size: 4096, kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false, fileOffset: 0 }] },
    sections: [],
  });
  const text = (m: Record<string, unknown>): string => serializeManifest(m as unknown as CheckpointManifest);

  it('round-trips, with a golden checksum over the manifest', () => {
    const t = text(base());
    expect(JSON.parse(t).checksum).toBe(sha256(JSON.stringify(base())));
    expect(parseManifest(t, 'ck')).toEqual(base());
  });

  it('checks the magic first, then the format version, naming the version that wrote it', () => {
    expect(thrown(() => parseManifest('{"magic":"other"}', 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("not a kvmts checkpoint manifest") });
    const e = thrown(() => parseManifest(text({ ...base(), formatVersion: 4, kvmtsVersion: '9.0.0' }), 'ck'));
    expect(e.code).toBe('format-version');
    expect(e.message).toBe("ck: checkpoint format version 4 (written by kvmts 9.0.0) is not the version this kvmts reads (3): restore it with a kvmts of that format version");
    // Format 2 (one file per section) is refused the same way.
    const v2 = thrown(() => parseManifest(text({ ...base(), formatVersion: 2, kvmtsVersion: '0.1.0', sections: [{ name: 'a', file: 'sections/0.json', version: 1, bytes: 1, sha256: 'a'.repeat(64) }] }), 'ck'));
    expect(v2).toMatchObject({ code: 'format-version', message: expect.stringContaining('checkpoint format version 2 (written by kvmts 0.1.0) is not the version this kvmts reads (3)') });
    // Format 1 (a SHA-256 over the whole logical image, no page checksums) is refused the same way, before its other fields are read.
    const { pages: _p, pageMap: _m, pageMapSha256: _ms, checksums: _c, checksumsSha256: _cs, ...v1Memory } = base().memory as Record<string, unknown>;
    const v1 = thrown(() => parseManifest(text({ ...base(), formatVersion: 1, kvmtsVersion: '0.1.0', memory: { ...v1Memory, sha256: 'a'.repeat(64) } }), 'ck'));
    expect(v1).toMatchObject({ code: 'format-version', message: 'ck: checkpoint format version 1 (written by kvmts 0.1.0) is not the version this kvmts reads (3): restore it with a kvmts of that format version' });
  });

  it('names a malformed field (with a valid checksum: written by a buggy writer)', () => {
    const m = base();
    (m.memory as { regions: { fileOffset: number }[] }).regions[0].fileOffset = 4096;
    expect(thrown(() => parseManifest(text(m), 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("'fileOffset' is 4096, expected 0 (regions follow each other)") });
    const section = (name: string, offset: number, bytes: number) => ({ name, version: 1, offset, bytes, sha256: 'a'.repeat(64) });
    expect(parseManifest(text({ ...base(), sections: [section('a', 0, 5), section('b', 6, 1)] }), 'ck').sections).toHaveLength(2);
    expect(thrown(() => parseManifest(text({ ...base(), sections: [section('a', 0, 5), section('b', 5, 1)] }), 'ck'))).toMatchObject({ code: 'corrupt', message: "ck sections[1]: manifest field 'offset' is 5, expected 6 (sections follow each other, a newline after each)" });
    expect(thrown(() => parseManifest(text({ ...base(), sections: [section('a', 1, 5)] }), 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("'offset' is 1, expected 0") });
    const noSums = base();
    delete (noSums.memory as Record<string, unknown>).checksumsSha256;
    expect(thrown(() => parseManifest(text(noSums), 'ck'))).toMatchObject({ code: 'corrupt', message: "ck memory: manifest field 'checksumsSha256' is missing, expected a SHA-256" });
  });
});

describe('CPU fingerprints', () => {
  it('match when identity is equal and every saved feature bit is offered', () => {
    expect(fingerprintMismatches(FINGERPRINT, { ...FINGERPRINT, features: { 'word 0': '0xff' }, digest: '1'.repeat(64) })).toEqual([]);
  });

  it('name each identity difference and each missing feature bit', () => {
    expect(fingerprintMismatches(FINGERPRINT, { ...FINGERPRINT, identity: { vendor: 'Acme', model: '0x2b' }, features: { 'word 0': '0x1' } })).toEqual(['model was 0x2a, this host has 0x2b', 'word 0: bits 1, 4 set at save, not offered here']);
    expect(fingerprintMismatches(FINGERPRINT, { ...FINGERPRINT, kind: 'other' })).toEqual(["the checkpoint's CPU fingerprint is of kind 'test-cpu', this host's of kind 'other'"]);
  });
});
