/**
 * Incremental checkpoints without KVM, on real files: the incremental image, its page map and
 * page CRC-32s (golden bytes), applying a link over a base, the manifest's parent entry, and
 * chain resolution with its errors (missing, replaced or damaged parents).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CheckpointReader,
  CheckpointWriter,
  PAGE_MAP_FILE,
  applyIncrement,
  checkIncrementalParent,
  countPages,
  dirtyBitmapBytes,
  pageMapBytes,
  parseManifest,
  readPageMap,
  resolveChain,
  serializeManifest,
  writeMemoryImage,
  PAGE_CHECKSUMS_FILE,
  type CheckpointManifest,
  type ManifestHeader,
  type TrackingState,
} from '@kvmts/core';
import { thrown } from './support/thrown';

const PAGE = 4096;
const HEADER: ManifestHeader = {
  arch: 'test-arch',
  kvmtsVersion: '0.1.0',
  createdAt: '2026-01-01T00:00:00.000Z',
  config: { arch: 'test-arch', memory: 4 * PAGE },
  bootSha256: null,
  vcpus: 1,
  cpu: { kind: 'test-cpu', identity: {}, features: {}, digest: '0'.repeat(64) },
};
const REGION = { name: 'ram', guestPhysAddr: 0, size: 4 * PAGE, kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false };

/** 4 pages; page n filled with byte `fill[n]`. */
function ram(fill: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * PAGE);
  fill.forEach((v, i) => b.fill(v, i * PAGE, (i + 1) * PAGE));
  return b;
}

const sha256 = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('bitmaps', () => {
  it('sizes KVM dirty bitmaps in 64-bit words and page maps in bytes', () => {
    expect([1, 64, 65, 262_144].map(dirtyBitmapBytes)).toEqual([8, 8, 16, 32_768]);
    expect([PAGE, 8 * PAGE, 9 * PAGE, 2 ** 30].map(pageMapBytes)).toEqual([1, 1, 2, 32_768]);
    expect(countPages(Uint8Array.of(0b1010_0101, 0xff), 12)).toBe(8);
  });
});

describe('incremental images', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-incr-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  it('store only the changed pages (a changed zero page is in the map, not on disk), each with its CRC-32', async () => {
    const bytes = ram([0x11, 0x22, 0x33, 0]);
    // Pages 1 and 3 changed; page 3 became zero.
    const r = await writeMemoryImage(path.join(work, 'memory.img'), [{ fileOffset: 0, views: [bytes], changed: Uint8Array.of(0b1010, 0, 0, 0, 0, 0, 0, 0) }], 4 * PAGE);
    expect(Array.from(r.pageMap)).toEqual([0b1010]);
    expect(r).toMatchObject({ pages: 2, dataPages: 1 });
    expect(Array.from(new Uint32Array(r.checksums.buffer.slice(0)))).toEqual([crc32(bytes.subarray(PAGE, 2 * PAGE)), crc32(new Uint8Array(PAGE))]);
    const file = fs.readFileSync(path.join(work, 'memory.img'));
    expect(file.length).toBe(4 * PAGE);
    expect(file.equals(Buffer.from(ram([0, 0x22, 0, 0])))).toBe(true);
  });

  it('apply a link over a base: only its pages change, each checked against its CRC-32', async () => {
    const image = path.join(work, 'memory.img');
    const link = await writeMemoryImage(image, [{ fileOffset: 0, views: [ram([0, 0x22, 0, 0])], changed: Uint8Array.of(0b1010) }], 4 * PAGE);
    const target = ram([1, 2, 3, 4]);
    const targets = [{ name: 'ram', guestPhysAddr: 0x100000, fileOffset: 0, size: 4 * PAGE, views: [target] }];
    const fd = fs.openSync(image, 'r');
    try {
      const source = { where: image, imageFd: fd, pageMap: link.pageMap, checksums: link.checksums, pages: link.pages };
      const seen: number[] = [];
      expect(applyIncrement(source, targets, (n) => seen.push(n))).toBe(2);
      expect(Buffer.from(target).equals(Buffer.from(ram([1, 0x22, 3, 0])))).toBe(true);
      const damaged = Uint8Array.from(link.checksums);
      damaged[4] ^= 1; // page 3's checksum
      expect(thrown(() => applyIncrement({ ...source, checksums: damaged }, targets))).toMatchObject({ code: 'corrupt', path: image, message: expect.stringContaining("page 3 (region 'ram', guest-physical 0x103000): checksum mismatch") });
      expect(thrown(() => applyIncrement({ ...source, pages: 3 }, targets))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('has 2 page checksums, the manifest says 3 pages') });
      expect(thrown(() => applyIncrement({ ...source, pageMap: Uint8Array.of(0, 1) }, targets))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('page 8, outside') });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('apply a link in runs: across views, a run longer than a checksum stretch, a damaged page named inside a run', async () => {
    // A 2 100-page region in two views (1 100 + 1 000 pages). Changed: pages 0-1 099 (the whole
    // first view: one run cut at 1 024 pages), 1 100-1 105 (the second view's first pages) and 2 050.
    const pages = 2100;
    const changedPages = [...Array.from({ length: 1106 }, (_, i) => i), 2050];
    const source = new Uint8Array(pages * PAGE);
    for (const p of changedPages) source.fill((p % 251) + 1, p * PAGE, (p + 1) * PAGE);
    const changed = new Uint8Array(Math.ceil(pages / 8));
    for (const p of changedPages) changed[p >>> 3] |= 1 << (p & 7);
    const image = path.join(work, 'memory.img');
    const link = await writeMemoryImage(image, [{ fileOffset: 0, views: [source.subarray(0, 1100 * PAGE), source.subarray(1100 * PAGE)], changed }], pages * PAGE);
    expect(link.pages).toBe(changedPages.length);
    const fresh = (): Uint8Array => new Uint8Array(pages * PAGE).fill(0xee);
    const apply = (target: Uint8Array, checksums = link.checksums): number => {
      const fd = fs.openSync(image, 'r');
      try {
        const targets = [{ name: 'ram', guestPhysAddr: 0x40000000, fileOffset: 0, size: pages * PAGE, views: [target.subarray(0, 1100 * PAGE), target.subarray(1100 * PAGE)] }];
        return applyIncrement({ where: image, imageFd: fd, pageMap: link.pageMap, checksums, pages: link.pages }, targets);
      } finally {
        fs.closeSync(fd);
      }
    };
    const target = fresh();
    expect(apply(target)).toBe(changedPages.length);
    const expected = fresh();
    for (const p of changedPages) expected.set(source.subarray(p * PAGE, (p + 1) * PAGE), p * PAGE);
    expect(Buffer.from(target).equals(Buffer.from(expected))).toBe(true);
    // Page 1 030's checksum damaged: it sits in the second run of the first view (pages 1 024-1 099).
    const damaged = Uint8Array.from(link.checksums);
    damaged[1030 * 4] ^= 1;
    expect(thrown(() => apply(fresh(), damaged))).toMatchObject({ code: 'corrupt', path: image, message: expect.stringContaining("page 1030 (region 'ram', guest-physical 0x40406000): checksum mismatch") });
    // The image cut short inside page 2 050: named.
    fs.truncateSync(image, 2050 * PAGE + 100);
    expect(thrown(() => apply(fresh()))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('ends inside page 2050') });
  });

  describe('chains', () => {
    async function full(dir: string, bytes: Uint8Array): Promise<CheckpointManifest> {
      fs.mkdirSync(dir);
      const w = new CheckpointWriter(dir);
      w.addSection('vcpu.0', 1, { rip: 1n });
      await w.writeMemory([{ ...REGION, views: [bytes] }]);
      return w.finish(HEADER);
    }
    async function incremental(dir: string, parent: { id: string; path: string }, bytes: Uint8Array, changed: number): Promise<CheckpointManifest> {
      fs.mkdirSync(dir);
      const w = new CheckpointWriter(dir);
      w.addSection('vcpu.0', 1, { rip: 2n });
      await w.writeMemory([{ ...REGION, views: [bytes], changed: Uint8Array.of(changed) }], parent);
      return w.finish(HEADER);
    }

    it('record the parent in the manifest and resolve base first', async () => {
      const base = await full(path.join(work, 'a'), ram([1, 2, 3, 4]));
      const child = await incremental(path.join(work, 'b'), { id: base.id, path: '../a' }, ram([1, 9, 3, 4]), 0b0010);
      const grandchild = await incremental(path.join(work, 'c'), { id: child.id, path: '../b' }, ram([1, 9, 3, 7]), 0b1000);
      expect(child.memory).toMatchObject({ pages: 1, dataPages: 1, pageMap: PAGE_MAP_FILE, pageMapSha256: sha256(Uint8Array.of(0b0010)), checksums: PAGE_CHECKSUMS_FILE, checksumsSha256: sha256(Uint8Array.from(new Uint8Array(new Uint32Array([crc32(new Uint8Array(PAGE).fill(9))]).buffer))), parent: { id: base.id, path: '../a' } });
      expect(base.memory).toMatchObject({ pages: 4, dataPages: 4, parent: null });
      expect(base.id).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set([base.id, child.id, grandchild.id]).size).toBe(3);
      const chain = resolveChain(CheckpointReader.open(path.join(work, 'c')));
      expect(chain.map((r) => path.basename(r.dir))).toEqual(['a', 'b', 'c']);
      expect(Array.from(readPageMap(chain[2]))).toEqual([0b1000]);
      expect(thrown(() => readPageMap(chain[0]))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('full checkpoint') });
      expect(Array.from(chain[0].pageMap())).toEqual([0b1111]);
      // The allocated blocks of a one-page link: one page (filesystems allocate in 4 KiB blocks).
      expect(fs.statSync(path.join(work, 'c', 'memory.img')).blocks * 512).toBe(PAGE);
    });

    it('name a missing parent, a replaced parent and a damaged page map', async () => {
      const base = await full(path.join(work, 'a'), ram([1, 2, 3, 4]));
      await incremental(path.join(work, 'b'), { id: base.id, path: '../a' }, ram([1, 9, 3, 4]), 0b0010);
      const a = path.join(work, 'a');
      fs.rmSync(a, { recursive: true });
      expect(thrown(() => resolveChain(CheckpointReader.open(path.join(work, 'b'))))).toMatchObject({ code: 'missing', path: a, message: expect.stringContaining(`is the parent checkpoint of ${path.join(work, 'b')}`) });
      const other = await full(a, ram([1, 2, 3, 4]));
      expect(thrown(() => resolveChain(CheckpointReader.open(path.join(work, 'b'))))).toMatchObject({
        code: 'incompatible',
        path: a,
        message: `${a}: is not the parent ${path.join(work, 'b')} was made over: its id is ${other.id}, ${path.join(work, 'b')}/manifest.json expects ${base.id} (the parent was replaced by another checkpoint)`,
      });
      fs.writeFileSync(path.join(work, 'b', PAGE_MAP_FILE), Uint8Array.of(0b0100));
      expect(thrown(() => readPageMap(CheckpointReader.open(path.join(work, 'b'))))).toMatchObject({ code: 'corrupt', path: path.join(work, 'b', PAGE_MAP_FILE), message: expect.stringContaining('checksum mismatch') });
    });

    it("accept only the machine's previous tracked checkpoint as a parent", async () => {
      const a = path.join(work, 'a');
      const base = await full(a, ram([1, 2, 3, 4]));
      const tracking = (lastCheckpointId: string | undefined) => ({ tracker: undefined, lastCheckpointId }) as unknown as TrackingState;
      expect(checkIncrementalParent(a, path.join(work, 'b'), tracking(base.id))).toBe(base.id);
      expect(thrown(() => checkIncrementalParent(a, path.join(work, 'b'), tracking('f'.repeat(32))))).toMatchObject({
        code: 'incompatible',
        path: a,
        message: `${a}: is not this machine's previous checkpoint: its id is ${base.id}, the machine's changes are logged since checkpoint ${'f'.repeat(32)}`,
      });
      expect(thrown(() => checkIncrementalParent(a, path.join(work, 'b'), tracking(undefined)))).toMatchObject({ code: 'incompatible', message: expect.stringContaining('logs no changes since a checkpoint') });
      expect(thrown(() => checkIncrementalParent(a, `${a}/.`, tracking(base.id)))).toMatchObject({ code: 'incompatible', message: expect.stringContaining('cannot replace its own parent') });
      expect(thrown(() => checkIncrementalParent(path.join(work, 'none'), path.join(work, 'b'), tracking(base.id)))).toMatchObject({ code: 'missing', path: path.join(work, 'none') });
    });

    it("know the machine's previous checkpoint by its manifest's bytes, wherever it moved, and read any other whole", async () => {
      const a = path.join(work, 'a');
      const base = await full(a, ram([1, 2, 3, 4]));
      const written = fs.readFileSync(path.join(a, 'manifest.json'));
      // What a machine keeps of its last checkpoint: the bytes it wrote are the ones on disk.
      expect(written.equals(Buffer.from(serializeManifest(base)))).toBe(true);
      // The remembered bytes stand for the checkpoint: the remembered id is taken without parsing
      // the manifest (here one that is not the manifest's own, to show which path decided).
      const remembered = (id: string) => ({ tracker: undefined, lastCheckpointId: id, lastManifest: { manifest: base, bytes: written } }) as unknown as TrackingState;
      const moved = path.join(work, 'moved');
      fs.renameSync(a, moved);
      expect(checkIncrementalParent(moved, path.join(work, 'b'), remembered('e'.repeat(32)))).toBe('e'.repeat(32));
      // Its memory image is still checked as an open checks it: missing, or of another size.
      const image = path.join(moved, 'memory.img');
      const size = fs.statSync(image).size;
      fs.truncateSync(image, size - 4096);
      expect(thrown(() => checkIncrementalParent(moved, path.join(work, 'b'), remembered(base.id)))).toMatchObject({ code: 'corrupt', path: image, message: expect.stringContaining(`the manifest says ${size}`) });
      fs.renameSync(image, `${image}.away`);
      expect(thrown(() => checkIncrementalParent(moved, path.join(work, 'b'), remembered(base.id)))).toMatchObject({ code: 'missing', path: image });
      fs.renameSync(`${image}.away`, image);
      fs.truncateSync(image, size);
      // One byte of the manifest changed (its own checksum now fails): read whole, refused as corrupt.
      const manifest = path.join(moved, 'manifest.json');
      fs.writeFileSync(manifest, written.toString('utf8').replace('2026-01-01T', '2026-01-02T'));
      expect(thrown(() => checkIncrementalParent(moved, path.join(work, 'b'), remembered(base.id)))).toMatchObject({ code: 'corrupt', path: manifest });
      // Another checkpoint in its place: read whole, its own id decides.
      fs.rmSync(moved, { recursive: true });
      const other = await full(moved, ram([1, 2, 3, 5]));
      expect(thrown(() => checkIncrementalParent(moved, path.join(work, 'b'), remembered(base.id)))).toMatchObject({ code: 'incompatible', message: expect.stringContaining(`its id is ${other.id}`) });
      expect(checkIncrementalParent(moved, path.join(work, 'b'), remembered(other.id))).toBe(other.id);
      // No manifest there at all: the missing checkpoint named.
      expect(thrown(() => checkIncrementalParent(path.join(work, 'none'), path.join(work, 'b'), remembered(base.id)))).toMatchObject({ code: 'missing', path: path.join(work, 'none') });
    });

    it('refuse a malformed memory or parent entry in the manifest', async () => {
      const base = await full(path.join(work, 'a'), ram([1, 2, 3, 4]));
      const child = await incremental(path.join(work, 'b'), { id: base.id, path: '../a' }, ram([1, 9, 3, 4]), 0b0010);
      const noPath = { ...child, memory: { ...child.memory, parent: { ...child.memory.parent!, path: '' } } } as unknown as CheckpointManifest;
      expect(thrown(() => parseManifest(serializeManifest(noPath), 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("field 'path' is \"\"") });
      const bad = { ...child, memory: { ...child.memory, pageMap: 'other.bin' } } as unknown as CheckpointManifest;
      expect(thrown(() => parseManifest(serializeManifest(bad), 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("field 'pageMap' is \"other.bin\", expected 'pages.bin'") });
      const noId = { ...child, id: 'x' } as unknown as CheckpointManifest;
      expect(thrown(() => parseManifest(serializeManifest(noId), 'ck'))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("field 'id'") });
    });
  });
});
