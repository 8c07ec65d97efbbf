/**
 * The checked-checkpoint cache warm restores read through (checkpoint/verified-cache.ts), on real
 * checkpoint files: a checkpoint whose files are all unchanged is reused as it was checked (the
 * same frozen manifest, the same decoded sections, no read), and every kind of change — a section
 * rewritten in place with the same size (its ctime changes), a file replaced, a file removed, the
 * image damaged, the whole directory swapped — is seen by the next open, which reads and checks
 * again and names what is wrong. Files written less than RACY_NS ago are never kept.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointReader, CheckpointWriter, MANIFEST_FILE, PREVIOUS_SUFFIX, type ManifestHeader } from '@kvmts/core';
import { RACY_NS, clearVerifiedCache } from '../src/checkpoint/verified-cache';
import { thrown } from './support/thrown';

const HEADER: ManifestHeader = {
  arch: 'test-arch',
  kvmtsVersion: '0.1.0',
  createdAt: '2026-01-01T00:00:00.000Z',
  config: { arch: 'test-arch', memory: 8192, archOptions: { mode: 'a' } },
  bootSha256: null,
  vcpus: 1,
  cpu: { kind: 'test-cpu', identity: { vendor: 'Acme' }, features: { 'word 0': '0x13' }, digest: '0'.repeat(64) },
};

async function writeCheckpoint(dir: string, clock = 123456789n): Promise<void> {
  fs.mkdirSync(dir);
  const w = new CheckpointWriter(dir);
  w.addSection('vcpu.0', 1, { rip: 0x8000n, xsave: new Uint8Array(16).fill(7) });
  w.addSection('x86.clock', 1, { clock, list: [1, 2] });
  const flags = { kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false };
  await w.writeMemory([{ name: 'low', guestPhysAddr: 0, size: 8192, ...flags, views: [new Uint8Array(8192).fill(0xaa)] }]);
  w.finish(HEADER);
}

/** Open `dir` and read both sections (what a restore does), returning what it got. */
function restoreReads(dir: string) {
  const reader = CheckpointReader.open(dir);
  return { reader, manifest: reader.manifest, vcpu: reader.section('vcpu.0', { shared: true }).data, clock: reader.section('x86.clock', { shared: true }).data };
}

describe('checked checkpoints, reused while every file is unchanged', () => {
  let work: string;
  /** One settled checkpoint per test (written once, RACY_NS before the tests start). */
  const settled = (name: string) => path.join(work, name);
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-cache-'));
    for (const name of ['reuse', 'rewrite', 'replace', 'remove', 'image', 'swap', 'previous', 'manifest']) await writeCheckpoint(settled(name));
    await new Promise((r) => setTimeout(r, Number(RACY_NS / 1_000_000n) + 200));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  beforeEach(() => clearVerifiedCache());

  it('an unchanged checkpoint: the same frozen manifest and the same decoded sections, copies only for callers that may change them', () => {
    const dir = settled('reuse');
    const first = restoreReads(dir);
    const again = restoreReads(dir);
    expect(again.manifest).toBe(first.manifest);
    expect(again.vcpu).toBe(first.vcpu);
    expect(again.clock).toBe(first.clock);
    expect(again.clock).toEqual({ clock: 123456789n, list: [1, 2] });
    expect(again.reader.memoryImagePath).toBe(path.join(dir, 'memory.img'));
    // The manifest is handed to every reader: frozen all the way down.
    expect(Object.isFrozen(first.manifest)).toBe(true);
    expect(Object.isFrozen(first.manifest.memory.regions[0])).toBe(true);
    expect(Object.isFrozen((first.manifest.config as { archOptions: object }).archOptions)).toBe(true);
    expect(() => {
      (first.manifest.sections[0] as { name: string }).name = 'x';
    }).toThrow(TypeError);
    // A caller that may change the data gets its own copy; its change reaches nobody else.
    const copy = again.reader.section('x86.clock').data as { list: number[] };
    expect(copy).not.toBe(first.clock);
    copy.list.push(3);
    expect(restoreReads(dir).clock).toEqual({ clock: 123456789n, list: [1, 2] });
  });

  it('a section rewritten in place with the same size (only its ctime and content change): read again, the damage named', async () => {
    const dir = settled('rewrite');
    const first = restoreReads(dir);
    const file = path.join(dir, 'sections.jsonl');
    const bytes = fs.readFileSync(file);
    const size = bytes.byteLength;
    const at = bytes.indexOf('1', first.manifest.sections[1].offset);
    bytes[at] = '9'.charCodeAt(0); // same length, one digit different
    fs.writeFileSync(file, bytes);
    expect(fs.statSync(file).size).toBe(size);
    const reader = CheckpointReader.open(dir);
    expect(reader.manifest).not.toBe(first.manifest); // the manifest read and checked again too
    expect(reader.manifest).toEqual(first.manifest);
    expect(thrown(() => reader.section('x86.clock'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("section 'x86.clock' (sections.jsonl bytes 75–121): checksum mismatch") });
    // Put back: the bytes check again (the file is racy now, so it is read every time).
    bytes[at] = '1'.charCodeAt(0);
    fs.writeFileSync(file, bytes);
    expect(restoreReads(dir).clock).toEqual({ clock: 123456789n, list: [1, 2] });
  });

  it('the sections replaced by another file with the same bytes: read again (a new inode), still good', () => {
    const dir = settled('replace');
    const first = restoreReads(dir);
    const file = path.join(dir, 'sections.jsonl');
    fs.copyFileSync(file, `${file}.new`);
    fs.renameSync(`${file}.new`, file);
    const again = restoreReads(dir);
    expect(again.manifest).not.toBe(first.manifest);
    expect(again.vcpu).not.toBe(first.vcpu);
    expect(again.vcpu).toEqual(first.vcpu);
  });

  it('the sections file removed: missing, naming it, though every section was read and kept before', () => {
    const dir = settled('remove');
    restoreReads(dir);
    fs.rmSync(path.join(dir, 'sections.jsonl'));
    const reader = CheckpointReader.open(dir);
    expect(thrown(() => reader.section('vcpu.0'))).toMatchObject({ code: 'missing', path: `${dir}/sections.jsonl` });
    expect(thrown(() => reader.section('x86.clock'))).toMatchObject({ code: 'missing', path: `${dir}/sections.jsonl` });
  });

  it('the memory image truncated, then removed: corrupt, then missing, naming the image', () => {
    const dir = settled('image');
    restoreReads(dir);
    const image = path.join(dir, 'memory.img');
    fs.truncateSync(image, 4096);
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'corrupt', path: `${dir}/memory.img`, message: expect.stringContaining('is 4096 bytes, the manifest says 8192') });
    fs.rmSync(image);
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'missing', path: `${dir}/memory.img`, message: expect.stringContaining('the memory image is missing') });
    fs.mkdirSync(image);
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('is not a regular file') });
  });

  it('the manifest rewritten in place (same bytes): read and checked again; made invalid: named', () => {
    const dir = settled('manifest');
    const first = restoreReads(dir);
    const file = path.join(dir, MANIFEST_FILE);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text);
    expect(CheckpointReader.open(dir).manifest).not.toBe(first.manifest);
    fs.writeFileSync(file, text.replace('"vcpus": 1', '"vcpus": 2'));
    expect(thrown(() => CheckpointReader.open(dir))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('manifest.json: checksum mismatch') });
  });

  it('the directory swapped for another checkpoint, or moved aside to .previous and back: each open reads what is there now', async () => {
    const dir = settled('swap');
    const first = restoreReads(dir);
    const other = path.join(work, 'swap-other');
    await writeCheckpoint(other, 42n);
    fs.renameSync(dir, `${dir}.old`);
    fs.renameSync(other, dir);
    const swapped = restoreReads(dir);
    expect(swapped.manifest.id).not.toBe(first.manifest.id);
    expect(swapped.clock).toEqual({ clock: 42n, list: [1, 2] });
    // An interrupted replacement leaves only <dir>.previous: read from there, and from <dir> again once it is back.
    const p = settled('previous');
    const before = restoreReads(p);
    fs.renameSync(p, p + PREVIOUS_SUFFIX);
    const aside = CheckpointReader.open(p);
    expect(aside.dir).toBe(p + PREVIOUS_SUFFIX);
    expect(aside.manifest.id).toBe(before.manifest.id);
    expect(CheckpointReader.open(p).dir).toBe(p + PREVIOUS_SUFFIX);
    fs.renameSync(p + PREVIOUS_SUFFIX, p);
    expect(CheckpointReader.open(p).dir).toBe(p);
    fs.rmSync(p, { recursive: true });
    expect(thrown(() => CheckpointReader.open(p))).toMatchObject({ code: 'missing' });
  });

  it('a checkpoint written just now (within RACY_NS) is read and checked on every open', async () => {
    const dir = path.join(work, 'fresh');
    await writeCheckpoint(dir);
    const first = restoreReads(dir);
    const again = restoreReads(dir);
    expect(again.manifest).not.toBe(first.manifest);
    expect(again.clock).not.toBe(first.clock);
    expect(again.clock).toEqual(first.clock);
  });
});
