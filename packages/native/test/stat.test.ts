/**
 * statMany against fs.statSync of the same real files: every word of each record equals what
 * Node reports (bigint stats), a missing file is marked with -ENOENT, and the records change
 * exactly when a file is rewritten or replaced — what a cache comparing the bytes relies on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { constants as osConstants } from 'node:os';
import { statMany, statRecord, STAT_RECORD_BYTES, SyscallError } from '../src';

describe('statMany: several files identified in one call', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-statmany-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives, per path, the mode, device, inode, size and ns times fs.statSync gives', () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, 'one');
    fs.writeFileSync(b, Buffer.alloc(5000, 7));
    const paths = [a, b, dir];
    const stats = statMany(paths);
    expect(stats.byteLength).toBe(paths.length * STAT_RECORD_BYTES);
    paths.forEach((p, i) => {
      const st = fs.statSync(p, { bigint: true });
      expect(statRecord(stats, i)).toEqual({ mode: Number(st.mode), dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    });
    expect(statRecord(stats, 1).size).toBe(5000n);
    expect(statMany([])).toEqual(Buffer.alloc(0));
  });

  it('marks a missing file, or a path no file can have, with -errno and zeros', () => {
    const there = path.join(dir, 'there');
    fs.writeFileSync(there, 'x');
    const stats = statMany([path.join(dir, 'gone'), there, `${there}/below`, 'bad\0path']);
    const missing = { errno: osConstants.errno.ENOENT, mode: 0, dev: 0n, ino: 0n, size: 0n, mtimeNs: 0n, ctimeNs: 0n };
    expect(statRecord(stats, 0)).toEqual(missing);
    expect(statRecord(stats, 1).errno).toBeUndefined();
    expect(statRecord(stats, 2)).toEqual({ ...missing, errno: osConstants.errno.ENOTDIR });
    expect(statRecord(stats, 3)).toEqual(missing);
  });

  it('changes when a file is rewritten in place with the same size, or replaced; not when nothing happened', async () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'aaaa');
    const first = statMany([file]);
    expect(statMany([file]).equals(first)).toBe(true);
    // Past the kernel's coarse timestamp tick, so the rewrite gets a new ctime.
    await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(file, 'bbbb');
    const rewritten = statMany([file]);
    expect(rewritten.equals(first)).toBe(false);
    expect(statRecord(rewritten, 0).ino).toBe(statRecord(first, 0).ino);
    expect(statRecord(rewritten, 0).size).toBe(4n);
    expect(statRecord(rewritten, 0).ctimeNs).toBeGreaterThan(statRecord(first, 0).ctimeNs);
    const other = path.join(dir, 'g');
    fs.writeFileSync(other, 'bbbb');
    fs.renameSync(other, file);
    expect(statRecord(statMany([file]), 0).ino).not.toBe(statRecord(rewritten, 0).ino);
  });

  it('refuses what is not a list of strings with a SyscallError (EINVAL)', () => {
    expect(() => statMany([1 as unknown as string])).toThrow(SyscallError);
    expect(() => statMany('a' as unknown as string[])).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'stat' }));
    expect(() => statRecord(statMany([dir]), 1)).toThrow(RangeError);
  });
});
