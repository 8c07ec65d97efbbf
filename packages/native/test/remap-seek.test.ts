/**
 * remapFile (a file mapped in place over an existing mapping, as a checkpoint restore into a
 * running machine swaps guest RAM), lseek's SEEK_DATA / SEEK_HOLE (how a restore finds the data
 * of a sparse memory image without reading its holes), nonZeroPages (how a save finds the
 * pages worth storing) and setNonBlocking (how the CLI writes a socket stdout directly).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { constants, lseek, mappingById, mmap, nonZeroPages, remapFile, setNonBlocking } from '../src';
import { expectSyscallError } from './support/errors';

const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, SEEK_DATA, SEEK_HOLE } = constants;
const RW = PROT_READ | PROT_WRITE;
const PAGE = 4096;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-remap-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A 4-page file: page 1 holds 0x11…, page 3 holds 0x33…, pages 0 and 2 are holes. */
function sparseFile(): string {
  const file = path.join(dir, 'image');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, Buffer.alloc(PAGE, 0x11), 0, PAGE, PAGE);
  fs.writeSync(fd, Buffer.alloc(PAGE, 0x33), 0, PAGE, 3 * PAGE);
  fs.closeSync(fd);
  return file;
}

describe('remapFile', () => {
  it('puts the file under the same mapping (id, address, views); writes stay private', () => {
    const file = sparseFile();
    const m = mmap(2 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    const fd = fs.openSync(file, 'r');
    try {
      const before = new Uint8Array(m.view());
      before.fill(0xee);
      remapFile(m, RW, MAP_PRIVATE, fd, 2 * PAGE); // file pages 2 (hole) and 3 (0x33)
      // The view taken before still reaches the mapping: it now shows the file's bytes.
      expect(before[0]).toBe(0);
      expect(before[PAGE]).toBe(0x33);
      const same = mappingById(m.id);
      expect(same.address).toBe(m.address);
      before[PAGE] = 0x99; // copy-on-write: the file keeps its byte
      expect(new Uint8Array(same.view(PAGE, 1))[0]).toBe(0x99);
    } finally {
      fs.closeSync(fd);
      m.unmap();
    }
    expect(fs.readFileSync(file)[3 * PAGE]).toBe(0x33);
  });

  it('throws ENOENT naming mmap for a mapping that is gone, EBADF for a bad fd', () => {
    const m = mmap(PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    expectSyscallError(() => remapFile(m, RW, MAP_PRIVATE, -1, 0), 'mmap', 'EBADF');
    m.unmap();
    expectSyscallError(() => remapFile(m, RW, MAP_PRIVATE, 0, 0), 'mmap', 'ENOENT');
  });
});

describe('lseek', () => {
  it('finds the data pages of a sparse file with SEEK_DATA / SEEK_HOLE', () => {
    const fd = fs.openSync(sparseFile(), 'r');
    try {
      // A file system without hole support reports all of it as data; the test machine's does.
      expect(lseek(fd, 0, SEEK_DATA)).toBe(PAGE);
      expect(lseek(fd, PAGE, SEEK_HOLE)).toBe(2 * PAGE);
      expect(lseek(fd, 2 * PAGE, SEEK_DATA)).toBe(3 * PAGE);
      expect(lseek(fd, 3 * PAGE, SEEK_HOLE)).toBe(4 * PAGE);
      expect(lseek(fd, 4 * PAGE, SEEK_DATA)).toBeNull();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('throws EBADF naming lseek for a closed fd', () => {
    expectSyscallError(() => lseek(-1, 0, SEEK_DATA), 'lseek', 'EBADF');
  });
});

describe('nonZeroPages', () => {
  it('sets one bit per page holding a non-zero byte, wherever the byte is', () => {
    const m = mmap(20 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      const bytes = new Uint8Array(m.view());
      bytes[0] = 1; // page 0, first byte
      bytes[3 * PAGE + PAGE - 1] = 0x80; // page 3, last byte
      bytes[9 * PAGE + 1234] = 7; // page 9, inside
      bytes[19 * PAGE + 64] = 1; // page 19: the third byte of the map
      expect(Array.from(nonZeroPages(bytes))).toEqual([0b0000_1001, 0b0000_0010, 0b0000_1000]);
      // A view that starts inside the mapping counts from its own first page.
      expect(Array.from(nonZeroPages(bytes.subarray(3 * PAGE, 11 * PAGE)))).toEqual([0b0100_0001]);
      expect(Array.from(nonZeroPages(new Uint8Array(2 * PAGE)))).toEqual([0]);
    } finally {
      m.unmap();
    }
  });

  it('skipUnpopulated gives the same map, for pages never touched, read, or written', () => {
    const m = mmap(16 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      const bytes = new Uint8Array(m.view());
      bytes[2 * PAGE + 5] = 1;
      bytes[13 * PAGE] = 9;
      expect(bytes[7 * PAGE]).toBe(0); // page 7 read: the zero page is mapped there
      expect(Array.from(nonZeroPages(bytes, PAGE, true))).toEqual([0b0000_0100, 0b0010_0000]);
      expect(Array.from(nonZeroPages(bytes, PAGE, false))).toEqual([0b0000_0100, 0b0010_0000]);
    } finally {
      m.unmap();
    }
  });

  it('refuses a length that is not a whole number of pages', () => {
    expect(() => nonZeroPages(new Uint8Array(PAGE + 8))).toThrow(/multiple of the page size \(4096/);
    expect(() => nonZeroPages(new Uint8Array(PAGE), 12)).toThrow(RangeError);
  });
});

describe('setNonBlocking', () => {
  /** O_NONBLOCK as the kernel reports the fd's flags (/proc/self/fdinfo: octal). */
  const nonBlocking = (fd: number): boolean =>
    (parseInt(/^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8) & fs.constants.O_NONBLOCK) !== 0;

  it('sets and clears O_NONBLOCK on the fd, answering what it was', () => {
    const fd = fs.openSync('/dev/null', 'w');
    try {
      expect(nonBlocking(fd)).toBe(false);
      expect(setNonBlocking(fd, true)).toBe(false);
      expect(nonBlocking(fd)).toBe(true);
      expect(setNonBlocking(fd, true)).toBe(true);
      expect(setNonBlocking(fd, false)).toBe(true);
      expect(nonBlocking(fd)).toBe(false);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('names fcntl and EBADF for an fd that is not open', () => {
    expectSyscallError(() => setNonBlocking(-1, true), 'fcntl', 'EBADF');
  });
});
