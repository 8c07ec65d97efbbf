/**
 * The memory image (sparse writes, checksum of the logical image) and the atomic replacement of
 * a checkpoint directory, on real files — including a writer killed by SIGKILL mid-rewrite.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  CheckpointError,
  CheckpointReader,
  PREVIOUS_SUFFIX,
  checkpointLocation,
  recoverInterruptedSwap,
  replaceDirectoryAtomically,
  sha256OfViews,
  writeImagePages,
  writeSparseImage,
} from '@kvmts/core';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('sparse memory image', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-image-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  it('writes only non-zero pages, leaves holes for the rest, and hashes the logical image', () => {
    const MiB = 1024 * 1024;
    const a = new Uint8Array(2 * MiB);
    a[0] = 1; // page 0
    a.fill(0xcc, 5 * 4096, 8 * 4096); // pages 5..7, one run
    const b = new Uint8Array(MiB);
    b[MiB - 1] = 0xff; // the last page of the image
    const file = path.join(work, 'memory.img');
    const { dataPages, sha256: digest } = writeSparseImage(file, [{ fileOffset: 0, views: [a] }, { fileOffset: 2 * MiB, views: [b] }], 3 * MiB);
    expect(dataPages).toBe(5);
    const st = fs.statSync(file);
    expect(st.size).toBe(3 * MiB);
    // Five data pages on disk, not 3 MiB (filesystems allocate in blocks of 4 KiB or more).
    expect(st.blocks * 512).toBeLessThanOrEqual(5 * 64 * 1024);
    const content = fs.readFileSync(file);
    expect(content.equals(Buffer.concat([a, b]))).toBe(true);
    expect(digest).toBe(sha256(content));
    expect(sha256OfViews([a, b])).toBe(digest);
  });

  it('writes only the pages an incremental writer includes', () => {
    const data = new Uint8Array(4 * 4096).fill(9);
    const fd = fs.openSync(path.join(work, 'delta.img'), 'w');
    try {
      expect(writeImagePages(fd, 0, data, undefined, (page) => page === 1 || page === 3)).toEqual({ dataPages: 2 });
    } finally {
      fs.closeSync(fd);
    }
    const content = fs.readFileSync(path.join(work, 'delta.img'));
    expect(content.length).toBe(4 * 4096);
    expect([0, 1, 2, 3].map((p) => content[p * 4096])).toEqual([0, 9, 0, 9]);
  });

  it('refuses parts that leave a gap', () => {
    expect(() => writeSparseImage(path.join(work, 'gap.img'), [{ fileOffset: 4096, views: [new Uint8Array(4096)] }], 8192)).toThrow(RangeError);
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
      const image = fs.readFileSync(reader.memoryImagePath);
      expect(sha256(image)).toBe(reader.manifest.memory.sha256);
      expect(image[0]).toBe(generation & 0xff);
    }
  }, 240_000);
});
