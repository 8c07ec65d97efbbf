/**
 * readfile and writefile: the two m5ops that move bytes between guest memory and host files.
 * They run in the vCPU thread that took the exit (synchronous file I/O, straight into or out of
 * guest memory), so the byte count reaches the guest in the same access.
 *
 * The host side is the machine owner's choice, never the guest's: readfile reads the one file
 * the owner configured (gem5's --readfile), writefile writes only inside the owner's output
 * directory (gem5's m5out). A guest-chosen file name that would leave that directory — '..',
 * an absolute path, a symbolic link — is a GuestError, as is a buffer outside guest RAM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors/errors';
import type { GuestMemory } from '../vm/guest-memory';

/** Host files the m5ops may touch; plain data (it travels to every vCPU thread). */
export interface M5opFileOptions {
  /** The file readfile copies into the guest (gem5's --readfile). Absent: readfile needs a handler. */
  readonly readfile?: string;
  /** The directory writefile writes into (gem5's m5out). Absent: writefile needs a handler. */
  readonly outdir?: string;
}

/** What the m5ops need of guest memory: GuestMemory's bounds-checked view (it throws outside RAM). */
export type GuestRam = Pick<GuestMemory, 'bytes'>;

/** Longest file name writefile reads from the guest (bytes before the NUL). */
export const M5OP_MAX_FILENAME = 255;

/** A problem with the guest's arguments; the caller turns it into a GuestError with a dump. */
export class M5opArgumentProblem {
  constructor(readonly message: string, readonly details: Record<string, string | number | bigint>) {}
}

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

/** A guest address and length as numbers, or a problem when they do not fit. */
function guestRange(op: string, address: bigint, length: bigint): { gpa: number; len: number } | M5opArgumentProblem {
  if (address > BigInt(Number.MAX_SAFE_INTEGER) || length > 0xffffffffn) {
    return new M5opArgumentProblem(`${op}: guest buffer 0x${address.toString(16)} + ${length} bytes is outside guest RAM`, { op, address, length });
  }
  return { gpa: Number(address), len: Number(length) };
}

/** Guest bytes [gpa, gpa+len) as a view, or a problem naming the range when RAM does not hold it. */
function guestBytes(memory: GuestRam, op: string, gpa: number, len: number): Uint8Array | M5opArgumentProblem {
  if (len === 0) return new Uint8Array(0);
  try {
    return memory.bytes(gpa, len);
  } catch {
    return new M5opArgumentProblem(`${op}: guest buffer 0x${gpa.toString(16)}..0x${(gpa + len - 1).toString(16)} is outside guest RAM`, { op, address: BigInt(gpa), length: BigInt(len) });
  }
}

/**
 * readfile(address, length, offset): copy up to `length` bytes of the configured file, from
 * `offset`, to guest-physical `address`. Returns the bytes copied (0 at or past the end).
 */
export function m5opReadFile(memory: GuestRam, file: string, address: bigint, length: bigint, offset: bigint): bigint | M5opArgumentProblem {
  const range = guestRange('readfile', address, length);
  if (range instanceof M5opArgumentProblem) return range;
  const dest = guestBytes(memory, 'readfile', range.gpa, range.len);
  if (dest instanceof M5opArgumentProblem) return dest;
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < dest.length) {
      const n = fs.readSync(fd, dest, done, dest.length - done, offset + BigInt(done));
      if (n === 0) break;
      done += n;
    }
    return BigInt(done);
  } finally {
    fs.closeSync(fd);
  }
}

/** The NUL-terminated name at guest `address`, or a problem (outside RAM, no NUL within the limit, empty). */
function guestFileName(memory: GuestRam, address: bigint): string | M5opArgumentProblem {
  if (address > BigInt(Number.MAX_SAFE_INTEGER)) return new M5opArgumentProblem(`writefile: file name address 0x${address.toString(16)} is outside guest RAM`, { op: 'writefile', filenameAddress: address });
  const gpa = Number(address);
  const bytes: number[] = [];
  for (let i = 0; i <= M5OP_MAX_FILENAME; i++) {
    let b: number;
    try {
      b = memory.bytes(gpa + i, 1)[0];
    } catch {
      return new M5opArgumentProblem(`writefile: file name at 0x${gpa.toString(16)} runs outside guest RAM`, { op: 'writefile', filenameAddress: address });
    }
    if (b === 0) {
      if (bytes.length === 0) return new M5opArgumentProblem('writefile: the file name is empty', { op: 'writefile', filenameAddress: address });
      return Buffer.from(bytes).toString('utf8');
    }
    bytes.push(b);
  }
  return new M5opArgumentProblem(`writefile: file name at 0x${gpa.toString(16)} has no NUL within ${M5OP_MAX_FILENAME} bytes`, { op: 'writefile', filenameAddress: address });
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
export function m5opWriteFile(memory: GuestRam, outdir: string, address: bigint, length: bigint, offset: bigint, filenameAddress: bigint): bigint | M5opArgumentProblem {
  const name = guestFileName(memory, filenameAddress);
  if (name instanceof M5opArgumentProblem) return name;
  const target = m5opOutputPath(outdir, name);
  if (target instanceof M5opArgumentProblem) return target;
  const range = guestRange('writefile', address, length);
  if (range instanceof M5opArgumentProblem) return range;
  const src = guestBytes(memory, 'writefile', range.gpa, range.len);
  if (src instanceof M5opArgumentProblem) return src;
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
    while (done < src.length) done += fs.writeSync(fd, src, done, src.length - done, Number(offset) + done);
    return BigInt(done);
  } finally {
    fs.closeSync(fd);
  }
}
