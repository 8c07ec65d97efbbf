/**
 * The nested runner's vmlinux extraction (scripts/nested/lib/vmlinux.js): the xz payload a
 * bzImage's setup header names, unpacked with the host's xz and checked against the size Linux
 * recorded. The bzImages here are built field by field: setup sectors, "HdrS", payload_offset
 * and payload_length, and an xz stream of a small ELF-looking file.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const vmlinux = require('../../../scripts/nested/lib/vmlinux.js') as {
  extractVmlinux(cacheDir: string, kernel: string): string;
  bzImagePayload(image: Buffer): { xz: Buffer; size: number };
};

/** A bzImage: 1 + setupSects sectors of setup, then `prefix` bytes and the payload (+ its 4-byte size). */
function bzImage(payload: Buffer, size: number, { setupSects = 3, prefix = 100, magic = 'HdrS' } = {}): Buffer {
  const setup = Buffer.alloc((setupSects + 1) * 512);
  setup[0x1f1] = setupSects;
  setup.write(magic, 0x202, 'latin1');
  setup.writeUInt32LE(prefix, 0x248);
  setup.writeUInt32LE(payload.length + 4, 0x24c);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(size);
  return Buffer.concat([setup, Buffer.alloc(prefix, 0xcc), payload, tail, Buffer.alloc(64)]);
}

describe('nested tiers: the vmlinux inside a bzImage', () => {
  const elf = Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(5000, 0x41)]);
  const xz = execFileSync('xz', ['-c', '--check=crc32'], { input: elf });
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-vmlinux-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the payload at (setup_sects + 1) * 512 + payload_offset and unpacks it once into the cache', () => {
    const kernel = path.join(dir, 'vmlinuz');
    fs.writeFileSync(kernel, bzImage(xz, elf.length));
    expect(vmlinux.bzImagePayload(fs.readFileSync(kernel))).toEqual({ xz, size: elf.length });
    const out = vmlinux.extractVmlinux(path.join(dir, 'cache'), kernel);
    expect(fs.readFileSync(out)).toEqual(elf);
    const mtime = fs.statSync(out).mtimeMs;
    expect(vmlinux.extractVmlinux(path.join(dir, 'cache'), kernel)).toBe(out);
    expect(fs.statSync(out).mtimeMs).toBe(mtime);
  });

  it('rejects a file without the header, a payload past the end, a non-xz payload and a size mismatch, saying which', () => {
    expect(() => vmlinux.bzImagePayload(bzImage(xz, elf.length, { magic: 'NotH' }))).toThrow('vmlinux: not a bzImage (no "HdrS" at 0x202)');
    const cut = bzImage(xz, elf.length).subarray(0, 2048 + 100 + 10);
    expect(() => vmlinux.bzImagePayload(cut)).toThrow(/runs past the file's/);
    expect(() => vmlinux.bzImagePayload(bzImage(Buffer.from('not xz at all'), 13))).toThrow(/the payload is not xz \(starts 6e6f7420787a\)/);
    const kernel = path.join(dir, 'vmlinuz');
    fs.writeFileSync(kernel, bzImage(xz, elf.length + 1));
    expect(() => vmlinux.extractVmlinux(path.join(dir, 'cache'), kernel)).toThrow(/the unpacked payload is 5004 bytes \(Linux recorded 5005\)/);
  });
});
