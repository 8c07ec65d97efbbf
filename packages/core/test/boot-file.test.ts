/**
 * BootFile (files/boot-file.ts): a kernel or initrd checked and its head read when opened, then
 * read straight into its place (guest RAM's view) — never into a buffer of its own — and refused
 * by name when the file changed in between.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BOOT_FILE_HEAD_BYTES, ConfigError, bootBytes, bootBytesHead, bootBytesLength, deferBootFileReads, isBootFile, openBootFile, placeBootBytes } from '@kvmts/core';

describe('BootFile', () => {
  let dir: string;
  let file: string;
  /** 10,000 bytes, byte i = i * 7 mod 256: any misplaced byte shows. */
  const CONTENT = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-file-'));
    file = path.join(dir, 'Image');
    fs.writeFileSync(file, CONTENT);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('carries its length and first 4 KiB, not the rest', () => {
    const f = openBootFile('--kernel', file, 1 << 20);
    expect(isBootFile(f)).toBe(true);
    expect(isBootFile(CONTENT)).toBe(false);
    expect(f).toMatchObject({ kind: 'boot-file', setting: '--kernel', path: file, length: 10_000 });
    expect(f.head).toEqual(CONTENT.subarray(0, BOOT_FILE_HEAD_BYTES));
    expect(bootBytesLength(f)).toBe(10_000);
    expect(bootBytesHead(f, 64)).toEqual(CONTENT.subarray(0, 64));
    expect(bootBytesHead(CONTENT, 64)).toEqual(CONTENT.subarray(0, 64));
    expect(() => bootBytesHead(f, BOOT_FILE_HEAD_BYTES + 1)).toThrow(RangeError);
    // A file shorter than the head: all of it.
    fs.writeFileSync(file, CONTENT.subarray(0, 100));
    expect(openBootFile('--kernel', file, 1 << 20).head).toEqual(CONTENT.subarray(0, 100));
  });

  it('is read straight into the view it is placed in (at an offset of a larger buffer), byte for byte', () => {
    const f = openBootFile('--kernel', file, 1 << 20);
    const ram = new Uint8Array(64 * 1024).fill(0xee);
    placeBootBytes(f, ram.subarray(4096, 4096 + f.length));
    expect(ram.subarray(4096, 4096 + 10_000)).toEqual(CONTENT);
    expect(ram[4095]).toBe(0xee);
    expect(ram[4096 + 10_000]).toBe(0xee);
    expect(bootBytes(f)).toEqual(CONTENT);
    // Bytes in memory are copied as they are.
    const again = new Uint8Array(10_000);
    placeBootBytes(CONTENT, again);
    expect(again).toEqual(CONTENT);
    expect(() => placeBootBytes(f, ram.subarray(0, 9_999))).toThrow(RangeError);
  });

  it('is read when the layout`s reads are done, during a layout (bytes in memory and bootBytes at once); once', async () => {
    const f = openBootFile('--kernel', file, 1 << 20);
    const ram = new Uint8Array(32 * 1024);
    const copied = new Uint8Array(100);
    const { result, readFiles } = deferBootFileReads(() => {
      placeBootBytes(f, ram.subarray(0, f.length));
      placeBootBytes(CONTENT.subarray(0, 100), copied);
      // What needs the bytes themselves gets them now.
      expect(bootBytes(f)).toEqual(CONTENT);
      return 'laid out';
    });
    expect(result).toBe('laid out');
    expect(copied).toEqual(CONTENT.subarray(0, 100));
    expect(ram.every((b) => b === 0)).toBe(true);
    // On the thread pool: the bytes are there once the promise settles.
    const reading = readFiles();
    expect(reading).toBeInstanceOf(Promise);
    await reading;
    expect(ram.subarray(0, 10_000)).toEqual(CONTENT);
    // Done once: a later change of the file is not read again.
    ram.fill(0);
    await readFiles();
    expect(ram.every((b) => b === 0)).toBe(true);
    // Outside a layout, a file is read at once again; layouts do not nest.
    placeBootBytes(f, ram.subarray(0, f.length));
    expect(ram.subarray(0, 10_000)).toEqual(CONTENT);
    expect(() => deferBootFileReads(() => deferBootFileReads(() => 0))).toThrow(RangeError);
  });

  it('reports a file that changed before its deferred read by its setting, once every read has ended', async () => {
    const f = openBootFile('--initrd', file, 1 << 20);
    const other = path.join(dir, 'other');
    fs.writeFileSync(other, CONTENT);
    const g = openBootFile('--kernel', other, 1 << 20);
    const ram = new Uint8Array(2 * f.length);
    const { readFiles } = deferBootFileReads(() => {
      placeBootBytes(f, ram.subarray(0, f.length));
      placeBootBytes(g, ram.subarray(f.length));
    });
    fs.writeFileSync(file, CONTENT.subarray(0, 5_000));
    await expect(readFiles()).rejects.toThrow(new ConfigError('--initrd', `${file} changed after kvmts opened it (10000 bytes then, 5000 now): not loaded`));
    // The other file's read ran to its end before the promise settled (nothing writes RAM after).
    expect(ram.subarray(f.length)).toEqual(CONTENT);
    await expect(readFiles()).resolves.toBeUndefined(); // the failed read is not retried
  });

  it('refuses, naming its setting, a file that is not a regular file, too large, empty or missing', () => {
    expect(() => openBootFile('--kernel', dir, 1 << 20)).toThrow(new ConfigError('--kernel', `${dir} is not a regular file (a directory)`));
    expect(() => openBootFile('--initrd', file, 9_999)).toThrow(new ConfigError('--initrd', `${file} is 10000 bytes; the limit is 9999`));
    fs.writeFileSync(path.join(dir, 'empty'), '');
    expect(() => openBootFile('--kernel', path.join(dir, 'empty'), 100)).toThrow(new ConfigError('--kernel', `${path.join(dir, 'empty')} is empty`));
    expect(() => openBootFile('--kernel', path.join(dir, 'none'), 100)).toThrow(new ConfigError('--kernel', `cannot read ${path.join(dir, 'none')}: ENOENT`));
  });

  it('refuses to place a file that changed after it was opened: another size, another mtime, another file, gone', () => {
    const into = new Uint8Array(10_000);
    const grown = openBootFile('--kernel', file, 1 << 20);
    fs.appendFileSync(file, 'x');
    expect(() => placeBootBytes(grown, into)).toThrow(ConfigError);
    expect(() => placeBootBytes(grown, into)).toThrow(/^--kernel: /);

    fs.writeFileSync(file, CONTENT);
    const touched = openBootFile('--kernel', file, 1 << 20);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(file, later, later);
    expect(() => placeBootBytes(touched, into)).toThrow(new ConfigError('--kernel', `${file} changed after kvmts opened it (10000 bytes then, 10000 now): not loaded`));

    const replaced = openBootFile('--kernel', file, 1 << 20);
    fs.writeFileSync(`${file}.new`, CONTENT);
    fs.utimesSync(`${file}.new`, later, later);
    fs.renameSync(`${file}.new`, file); // same size and mtime, another inode
    expect(() => placeBootBytes(replaced, into)).toThrow(/changed after kvmts opened it/);

    const removed = openBootFile('--kernel', file, 1 << 20);
    fs.rmSync(file);
    expect(() => placeBootBytes(removed, into)).toThrow(new ConfigError('--kernel', `cannot read ${file}: ENOENT (it was 10000 bytes when kvmts opened it)`));
  });
});
