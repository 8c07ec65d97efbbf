/**
 * The memory image (sparse writes, page map, per-page CRC-32 and its verification) and the atomic replacement of
 * a checkpoint directory, on real files — including a writer killed by SIGKILL mid-rewrite.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import {
  CheckpointError,
  CheckpointReader,
  PREVIOUS_SUFFIX,
  checkpointLocation,
  recoverInterruptedSwap,
  replaceDirectoryAtomically,
  pageChecksum,
  storedPages,
  verifyMemoryImage,
  writeMemoryImage,
  writeMemoryImageSync,
  type ImageTarget,
} from '@kvmts/core';
import * as native from '@kvmts/native';
import { thrown } from './support/thrown';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('memory image (format 2: page map and per-page CRC-32)', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-image-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const MiB = 1024 * 1024;
  /** Two regions: pages 0 and 5..7 of the first, the last page of the second, are non-zero. */
  function ram(): [Uint8Array, Uint8Array] {
    const a = new Uint8Array(2 * MiB);
    a[0] = 1;
    a.fill(0xcc, 5 * 4096, 8 * 4096);
    const b = new Uint8Array(MiB);
    b[MiB - 1] = 0xff;
    return [a, b];
  }
  const targetsOf = (a: Uint8Array, b: Uint8Array): ImageTarget[] => [
    { name: 'low', guestPhysAddr: 0, fileOffset: 0, size: 2 * MiB, views: [a] },
    { name: 'high', guestPhysAddr: 0x100000000, fileOffset: 2 * MiB, size: MiB, views: [b] },
  ];

  it('stores only the non-zero pages, with a page map and the CRC-32 of each (golden), and holes for the rest', async () => {
    const [a, b] = ram();
    const file = path.join(work, 'memory.img');
    const seen: number[] = [];
    const r = await writeMemoryImage(file, [{ fileOffset: 0, views: [a] }, { fileOffset: 2 * MiB, views: [b] }], 3 * MiB, (done) => seen.push(done));
    expect({ pages: r.pages, dataPages: r.dataPages }).toEqual({ pages: 5, dataPages: 5 });
    expect([...storedPages(r.pageMap)]).toEqual([0, 5, 6, 7, 767]);
    expect(r.pageMap.length).toBe(96); // 768 pages, one bit each
    const crcs = Array.from({ length: 5 }, (_, i) => new DataView(r.checksums.buffer).getUint32(i * 4, true));
    // CRC-32 (zlib's polynomial) of the pages, golden values computed with Python's zlib.crc32: a page
    // of 0x01 then zeros, of 0xcc, of zeros then 0xff.
    expect(crcs.map((c) => c.toString(16))).toEqual(['9dc4a93d', '92f3d218', '92f3d218', '92f3d218', 'ea1eef9c']);
    expect(pageChecksum(a.subarray(0, 4096))).toBe(crcs[0]);
    expect(seen[seen.length - 1]).toBe(3 * MiB);
    const st = fs.statSync(file);
    expect(st.size).toBe(3 * MiB);
    expect(st.blocks * 512).toBeLessThanOrEqual(5 * 64 * 1024);
    expect(fs.readFileSync(file).equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('stores the changed pages of an incremental image, zero ones as holes; "all" stores a whole region', async () => {
    const data = new Uint8Array(4 * 4096).fill(9);
    data.fill(0, 3 * 4096);
    const other = new Uint8Array(2 * 4096);
    const r = await writeMemoryImage(path.join(work, 'delta.img'), [{ fileOffset: 0, views: [data], changed: Uint8Array.of(0b1010) }, { fileOffset: 4 * 4096, views: [other], changed: 'all' }], 6 * 4096);
    expect([...storedPages(r.pageMap)]).toEqual([1, 3, 4, 5]);
    expect({ pages: r.pages, dataPages: r.dataPages }).toEqual({ pages: 4, dataPages: 1 });
    const content = fs.readFileSync(path.join(work, 'delta.img'));
    expect([0, 1, 2, 3].map((p) => content[p * 4096])).toEqual([0, 9, 0, 0]);
  });

  it('writes the same image asynchronously (O_DIRECT where the file system takes it) as synchronously, on disk and on tmpfs, long runs included', async () => {
    // 20 MiB of data in one run (three write pieces), a hole, a lone page, and page-aligned views
    // (O_DIRECT wants page-aligned memory: guest RAM is).
    const c = native.constants;
    const mapping = native.mmap(24 * MiB, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS);
    try {
      const ram = new Uint8Array(mapping.view(0, 24 * MiB));
      for (let p = 0; p < (20 * MiB) / 4096; p++) ram.fill((p % 251) + 1, p * 4096, p * 4096 + 64);
      ram[23 * MiB + 7] = 9;
      const parts = [{ fileOffset: 0, views: [ram.subarray(0, 16 * MiB)] }, { fileOffset: 16 * MiB, views: [ram.subarray(16 * MiB)] }];
      const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/kvmts-ckpt-image-') : undefined;
      try {
        for (const dir of [work, ...(shm ? [shm] : [])]) {
          const async = await writeMemoryImage(path.join(dir, 'async.img'), parts, 24 * MiB, () => undefined);
          const sync = writeMemoryImageSync(path.join(dir, 'sync.img'), parts, 24 * MiB);
          expect(async).toEqual(sync);
          expect({ pages: async.pages, dataPages: async.dataPages }).toEqual({ pages: 5121, dataPages: 5121 });
          expect(fs.readFileSync(path.join(dir, 'async.img')).equals(fs.readFileSync(path.join(dir, 'sync.img')))).toBe(true);
          expect(fs.readFileSync(path.join(dir, 'async.img')).equals(Buffer.from(ram))).toBe(true);
        }
      } finally {
        if (shm) fs.rmSync(shm, { recursive: true, force: true });
      }
    } finally {
      mapping.unmap();
    }
  });

  it('writes a view O_DIRECT cannot take (not page-aligned memory) through the page cache instead, the same bytes', async () => {
    // A view one byte into a buffer: never page-aligned, so an O_DIRECT write of it is refused (EINVAL).
    const backing = new Uint8Array(3 * 4096 + 1);
    const view = backing.subarray(1);
    view.fill(7, 0, 4096);
    view.fill(9, 2 * 4096);
    const r = await writeMemoryImage(path.join(work, 'unaligned.img'), [{ fileOffset: 0, views: [view] }], 3 * 4096);
    expect({ pages: r.pages, dataPages: r.dataPages }).toEqual({ pages: 2, dataPages: 2 });
    expect(fs.readFileSync(path.join(work, 'unaligned.img')).equals(Buffer.from(view))).toBe(true);
  });

  // ramfs refuses O_DIRECT (so does tmpfs before Linux 6.6), after creating the file: the writer
  // must take that file, buffered. Mounting one needs root (as the nested tiers do): elsewhere skipped.
  const ramfs = (): string | undefined => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ramfs-'));
    if (spawnSync('mount', ['-t', 'ramfs', 'ramfs', dir], { stdio: 'ignore' }).status === 0) return dir;
    fs.rmdirSync(dir);
    return undefined;
  };
  const mounted = process.getuid?.() === 0 ? ramfs() : undefined;
  afterAll(() => {
    if (mounted === undefined) return;
    spawnSync('umount', [mounted]);
    fs.rmdirSync(mounted);
  });
  (mounted ? it : it.skip)('writes the image on a file system that refuses O_DIRECT after creating the file (ramfs)', async () => {
    const probe = path.join(mounted!, 'probe');
    expect(() => fs.openSync(probe, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(fs.existsSync(probe)).toBe(true);
    const view = new Uint8Array(3 * 4096).fill(3, 4096, 8192);
    const r = await writeMemoryImage(path.join(mounted!, 'memory.img'), [{ fileOffset: 0, views: [view] }], 3 * 4096);
    expect({ pages: r.pages, dataPages: r.dataPages }).toEqual({ pages: 1, dataPages: 1 });
    expect(fs.readFileSync(path.join(mounted!, 'memory.img')).equals(Buffer.from(view))).toBe(true);
  });

  it('refuses parts that leave a gap', async () => {
    await expect(writeMemoryImage(path.join(work, 'gap.img'), [{ fileOffset: 4096, views: [new Uint8Array(4096)] }], 8192)).rejects.toThrow(RangeError);
  });

  it('verifies what it stores; names a damaged stored page and data where the map says zero', async () => {
    const [a, b] = ram();
    const file = path.join(work, 'memory.img');
    const r = await writeMemoryImage(file, [{ fileOffset: 0, views: [a] }, { fileOffset: 2 * MiB, views: [b] }], 3 * MiB);
    const verify = (x: Uint8Array, y: Uint8Array, progress?: (n: number) => void): void => {
      const fd = fs.openSync(file, 'r');
      try {
        verifyMemoryImage(file, fd, r.pageMap, r.checksums, targetsOf(x, y), progress);
      } finally {
        fs.closeSync(fd);
      }
    };
    const seen: number[] = [];
    verify(a, b, (n) => seen.push(n));
    expect(seen[seen.length - 1]).toBe(5 * 4096);
    // A flipped byte in a stored page (as mapped from the file): named by page, region and address.
    const flipped = Uint8Array.from(b);
    flipped[MiB - 2] ^= 0x40;
    expect(thrown(() => verify(a, flipped))).toMatchObject({ code: 'corrupt', path: file, message: expect.stringContaining("page 767 (region 'high', guest-physical 0x1000ff000): checksum mismatch") });
    // Data written into a hole of the file (page 2): found through SEEK_DATA, named.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Uint8Array.of(7), 0, 1, 2 * 4096 + 100);
    fs.closeSync(fd);
    const holed = Uint8Array.from(a);
    holed[2 * 4096 + 100] = 7;
    expect(thrown(() => verify(holed, b))).toMatchObject({ code: 'corrupt', message: expect.stringContaining("page 2 (region 'low', guest-physical 0x2000): holds data, but the page map says it is zero") });
  });

  it('names a page map that disagrees with the checksum list or the machine, page by page', async () => {
    const [a, b] = ram();
    const file = path.join(work, 'memory.img');
    const r = await writeMemoryImage(file, [{ fileOffset: 0, views: [a] }, { fileOffset: 2 * MiB, views: [b] }], 3 * MiB);
    const check = (pageMap: Uint8Array, checksums: Uint8Array, targets = targetsOf(a, b)): CheckpointError => {
      const fd = fs.openSync(file, 'r');
      try {
        return thrown(() => verifyMemoryImage(file, fd, pageMap, checksums, targets));
      } finally {
        fs.closeSync(fd);
      }
    };
    // One checksum short: the list ends before the last stored page.
    expect(check(r.pageMap, r.checksums.subarray(0, 16))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('has more stored pages than checksums') });
    // One checksum too many.
    expect(check(r.pageMap, Uint8Array.from([...r.checksums, 0, 0, 0, 0]))).toMatchObject({ code: 'corrupt', message: expect.stringContaining('page map holds 5 pages, the checksum list 6') });
    // A second checksum damaged: the first page whose checksum differs is named (page 5, region 'low').
    const damaged = Uint8Array.from(r.checksums);
    damaged[4] ^= 0x40;
    expect(check(r.pageMap, damaged)).toMatchObject({ message: expect.stringContaining("page 5 (region 'low', guest-physical 0x5000): checksum mismatch") });
    // The machine without its high region: page 767 is stored where no region is.
    expect(check(r.pageMap, r.checksums.subarray(0, 16), targetsOf(a, b).slice(0, 1))).toMatchObject({ message: expect.stringContaining("holds page 767, outside the machine's memory") });
  });
});

describe('atomic checkpoint directories', () => {
  let work: string;
  let target: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-atomic-'));
    target = path.join(work, 'ck');
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  const fillWith = (text: string) => async (dir: string) => fs.writeFileSync(path.join(dir, 'f'), text);

  it('replaces an existing directory and leaves nothing else behind', async () => {
    await replaceDirectoryAtomically(target, fillWith('one'));
    await replaceDirectoryAtomically(target, fillWith('two'));
    expect(fs.readFileSync(path.join(target, 'f'), 'utf8')).toBe('two');
    expect(fs.readdirSync(work)).toEqual(['ck']);
  });

  it('a failing fill leaves the previous directory and removes its temp directory', async () => {
    await replaceDirectoryAtomically(target, fillWith('one'));
    const failure = new CheckpointError('x', 'boom', { code: 'not-saveable' });
    await expect(
      replaceDirectoryAtomically(target, async (dir) => {
        fs.writeFileSync(path.join(dir, 'f'), 'half');
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(fs.readFileSync(path.join(target, 'f'), 'utf8')).toBe('one');
    expect(fs.readdirSync(work)).toEqual(['ck']);
  });

  it('a crash between the two renames leaves `.previous`: readers use it, the next writer moves it back first', async () => {
    await replaceDirectoryAtomically(target, fillWith('one'));
    fs.renameSync(target, target + PREVIOUS_SUFFIX); // the state after step 2
    expect(checkpointLocation(target)).toBe(target + PREVIOUS_SUFFIX);
    recoverInterruptedSwap(target);
    expect(fs.readdirSync(work)).toEqual(['ck']);
    expect(fs.readFileSync(path.join(target, 'f'), 'utf8')).toBe('one');
  });

  it('removes temp directories of writers that are gone, and a `.previous` next to a complete target', async () => {
    await replaceDirectoryAtomically(target, fillWith('one'));
    fs.mkdirSync(`${target}.tmp-999999999-0`); // no such process
    fs.mkdirSync(`${target}.tmp-${process.ppid}-0`); // a live process (our parent): kept
    fs.mkdirSync(target + PREVIOUS_SUFFIX);
    recoverInterruptedSwap(target);
    expect(fs.readdirSync(work).sort()).toEqual(['ck', `ck.tmp-${process.ppid}-0`]);
  });

  // Each kill lands somewhere in a rewrite (the child announces itself after its first one): while
  // sections or the image are written, between the renames, or in the cleanup.
  it('a writer killed by SIGKILL at any moment of a rewrite leaves a complete, verifiable checkpoint', async () => {
    const rewriter = path.join(__dirname, 'fixtures', 'checkpoint-rewriter.js');
    for (const delayMs of [0, 15, 45, 120, 300]) {
      const child = spawn(process.execPath, [rewriter, target], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', () => reject(new Error(`rewriter exited early: ${stderr}`)));
      });
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const reader = CheckpointReader.open(target);
      const { generation } = reader.section('generation').data as { generation: number };
      expect((reader.manifest.config as { generation: number }).generation).toBe(generation);
      const image = new Uint8Array(fs.readFileSync(reader.memoryImagePath));
      const fd = fs.openSync(reader.memoryImagePath, 'r');
      try {
        const { bytes } = reader.manifest.memory;
        verifyMemoryImage(reader.memoryImagePath, fd, reader.pageMap(), reader.pageChecksums(), [{ name: 'ram', guestPhysAddr: 0, fileOffset: 0, size: bytes, views: [image] }]);
      } finally {
        fs.closeSync(fd);
      }
      expect(image[0]).toBe(generation & 0xff);
    }
  }, 240_000);
});
