/**
 * readfile and writefile: the two m5ops that move bytes between guest memory and host files.
 * They run in the vCPU thread that took the exit (synchronous file I/O, straight into or out of
 * guest memory), so the byte count reaches the guest in the same access.
 *
 * The host side is the machine owner's choice, never the guest's: readfile reads the one file
 * the owner configured (gem5's --readfile), writefile writes only inside the owner's output
 * directory (gem5's m5out). A guest-chosen file name that would leave that directory — '..',
 * an absolute path, a symbolic link — is a GuestError, as is a buffer outside guest RAM.
 * Guest addresses reach RAM through an M5opAddressSpace (m5op-memory.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors/errors';
import { M5opArgumentProblem, type M5opAddressSpace } from './m5op-memory';

/** Host files the m5ops may touch; plain data (it travels to every vCPU thread). */
export interface M5opFileOptions {
  /** The file readfile copies into the guest (gem5's --readfile). Absent: readfile needs a handler. */
  readonly readfile?: string;
  /** The directory writefile writes into (gem5's m5out). Absent: writefile needs a handler. */
  readonly outdir?: string;
}

/** Longest file name writefile reads from the guest (bytes before the NUL). */
export const M5OP_MAX_FILENAME = 255;
const NAME_PAGE = 4096n;

/** Checks the options on the main thread: readfile is a readable file, outdir a directory. */
export function checkM5opFileOptions(setting: string, o: M5opFileOptions): void {
  if (o.readfile !== undefined) {
    if (typeof o.readfile !== 'string' || o.readfile === '') throw new ConfigError(`${setting}.readfile`, `must be a file path, got ${String(o.readfile)}`);
    let st: fs.Stats;
    try {
      st = fs.statSync(o.readfile);
      fs.accessSync(o.readfile, fs.constants.R_OK);
    } catch (e) {
      throw new ConfigError(`${setting}.readfile`, `${o.readfile} cannot be read: ${(e as Error).message}`);
    }
    if (!st.isFile()) throw new ConfigError(`${setting}.readfile`, `${o.readfile} is not a regular file`);
  }
  if (o.outdir !== undefined) {
    if (typeof o.outdir !== 'string' || o.outdir === '') throw new ConfigError(`${setting}.outdir`, `must be a directory path, got ${String(o.outdir)}`);
    let st: fs.Stats;
    try {
      st = fs.statSync(o.outdir);
    } catch (e) {
      throw new ConfigError(`${setting}.outdir`, `${o.outdir} does not exist: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw new ConfigError(`${setting}.outdir`, `${o.outdir} is not a directory`);
  }
}

/**
 * readfile(address, length, offset): copy up to `length` bytes of the configured file, from
 * `offset`, to the guest buffer at `address`. Returns the bytes copied (0 at or past the end).
 */
export function m5opReadFile(memory: M5opAddressSpace, file: string, address: bigint, length: bigint, offset: bigint): bigint | M5opArgumentProblem {
  const views = memory.views('readfile', address, length);
  if (views instanceof M5opArgumentProblem) return views;
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0n;
    for (const view of views) {
      let at = 0;
      while (at < view.length) {
        const n = fs.readSync(fd, view, at, view.length - at, offset + done);
        if (n === 0) return done;
        at += n;
        done += BigInt(n);
      }
    }
    return done;
  } finally {
    fs.closeSync(fd);
  }
}

/** The NUL-terminated name at guest `address`, or a problem (outside RAM, no NUL within the limit, empty). */
function guestFileName(memory: M5opAddressSpace, address: bigint): string | M5opArgumentProblem {
  const bytes: number[] = [];
  const limit = address + BigInt(M5OP_MAX_FILENAME) + 1n; // the name's bytes and its NUL
  // A page at a time (one translation each); where a page is not all RAM, byte by byte, so a
  // name that ends right before the end of RAM or of a mapping is still read.
  let bytewise = false;
  for (let at = address; at < limit; ) {
    const pageEnd = (at / NAME_PAGE + 1n) * NAME_PAGE;
    const views = memory.views('writefile', at, bytewise ? 1n : (pageEnd < limit ? pageEnd : limit) - at);
    if (views instanceof M5opArgumentProblem && !bytewise) {
      bytewise = true;
      continue;
    }
    if (views instanceof M5opArgumentProblem) {
      return new M5opArgumentProblem(`writefile: file name at 0x${address.toString(16)} runs outside guest memory (${views.message})`, { op: 'writefile', filenameAddress: address });
    }
    for (const view of views) {
      const nul = view.indexOf(0);
      if (nul >= 0) {
        bytes.push(...view.subarray(0, nul));
        if (bytes.length === 0) return new M5opArgumentProblem('writefile: the file name is empty', { op: 'writefile', filenameAddress: address });
        return Buffer.from(bytes).toString('utf8');
      }
      bytes.push(...view);
      at += BigInt(view.length);
    }
  }
  return new M5opArgumentProblem(`writefile: file name at 0x${address.toString(16)} has no NUL within ${M5OP_MAX_FILENAME} bytes`, { op: 'writefile', filenameAddress: address });
}

/**
 * The host path for a guest-chosen `name` inside `outdir`, or a problem when it would leave the
 * directory: an absolute name, '..' that climbs out, or a directory on the way that is a symbolic
 * link to elsewhere (resolved with realpath). The file itself is opened with O_NOFOLLOW.
 */
export function m5opOutputPath(outdir: string, name: string): string | M5opArgumentProblem {
  const problem = (why: string) => new M5opArgumentProblem(`writefile: file name '${name}' ${why}; it must name a file inside the output directory`, { op: 'writefile', name });
  if (name.includes('\0')) return problem('contains a NUL byte');
  if (path.isAbsolute(name)) return problem('is absolute');
  const root = fs.realpathSync(outdir);
  const full = path.resolve(root, name);
  const rel = path.relative(root, full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return problem('leaves the output directory');
  let parent: string;
  try {
    parent = fs.realpathSync(path.dirname(full));
  } catch {
    return problem('is in a directory that does not exist');
  }
  const relParent = path.relative(root, parent);
  if (relParent.startsWith('..') || path.isAbsolute(relParent)) return problem('goes through a link out of the output directory');
  return path.join(parent, path.basename(full));
}

/**
 * writefile(address, length, offset, filenameAddress): write `length` guest bytes at `address`
 * to the named file in `outdir`, at `offset` — created or truncated when `offset` is 0, as gem5
 * does, else written into the existing file. Returns the bytes written.
 */
export function m5opWriteFile(memory: M5opAddressSpace, outdir: string, address: bigint, length: bigint, offset: bigint, filenameAddress: bigint): bigint | M5opArgumentProblem {
  const name = guestFileName(memory, filenameAddress);
  if (name instanceof M5opArgumentProblem) return name;
  const target = m5opOutputPath(outdir, name);
  if (target instanceof M5opArgumentProblem) return target;
  const views = memory.views('writefile', address, length);
  if (views instanceof M5opArgumentProblem) return views;
  if (offset + length > BigInt(Number.MAX_SAFE_INTEGER)) return new M5opArgumentProblem(`writefile: offset ${offset} is past the largest file offset kvmts writes`, { op: 'writefile', offset });
  const { O_WRONLY, O_CREAT, O_TRUNC, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(target, O_WRONLY | O_CREAT | O_NOFOLLOW | (offset === 0n ? O_TRUNC : 0), 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') return new M5opArgumentProblem(`writefile: '${name}' is a symbolic link; it must name a file inside the output directory`, { op: 'writefile', name });
    throw e;
  }
  try {
    let done = 0;
    for (const view of views) {
      for (let at = 0; at < view.length; ) {
        const n = fs.writeSync(fd, view, at, view.length - at, Number(offset) + done);
        at += n;
        done += n;
      }
    }
    return BigInt(done);
  } finally {
    fs.closeSync(fd);
  }
}
