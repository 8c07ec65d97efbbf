/**
 * The one way kvmts reads a file a user named (a flat image, a kernel, an initrd, a DTB, a
 * checkpoint's manifest, sections and page maps): only a regular file, its size checked against a
 * limit before a byte is read, read in bounded steps. A FIFO that never closes, a device node
 * such as /dev/zero, a directory or an oversized file is refused by name instead of hanging or
 * eating the host's memory.
 *
 * The file is opened O_NONBLOCK, so opening a FIFO with no writer returns at once (a blocking
 * open would wait for one forever), and the type and size come from fstat of that same open file
 * (no window between checking a path and reading another file put there meanwhile).
 */
import * as fs from 'node:fs';
import { ConfigError } from '../errors/errors';
import { settleAll } from '../util/settle-all';

/** Why a file could not be read, for callers that map it onto their own error (checkpoints). */
export type FileReadProblem = 'missing' | 'not-regular' | 'too-large' | 'empty' | 'io';

/** A file input refused: `problem` says why; the message names the path and, for size, the limit. */
export class FileReadFailure extends Error {
  constructor(
    readonly problem: FileReadProblem,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FileReadFailure';
  }
}

/** Bytes read per step: large enough to be fast, small enough that no step holds much memory. */
const STEP_BYTES = 8 * 1024 * 1024;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

export interface BoundedReadOptions {
  /** Largest size accepted, in bytes. */
  readonly limitBytes: number;
  /** Accept an empty file (default false: an empty image or kernel is a mistake). */
  readonly allowEmpty?: boolean;
}

/**
 * `file` opened under the rules above (a regular file within the limit, non-empty unless
 * allowed), with the fstat of that open file; throws FileReadFailure. The caller closes `fd`.
 */
export function openBoundedFile(file: string, options: BoundedReadOptions): { fd: number; st: fs.Stats } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadFailure(code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'io', file, `cannot read ${file}: ${code ?? String(e)}`, { cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FileReadFailure('not-regular', file, `${file} is not a regular file (${kindOf(st)})`);
    if (st.size > options.limitBytes) throw new FileReadFailure('too-large', file, `${file} is ${st.size} bytes; the limit is ${options.limitBytes}`);
    if (st.size === 0 && !options.allowEmpty) throw new FileReadFailure('empty', file, `${file} is empty`);
    return { fd, st };
  } catch (e) {
    fs.closeSync(fd);
    if (e instanceof FileReadFailure) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadFailure('io', file, `cannot read ${file}: ${code ?? String(e)}`, { cause: e });
  }
}

/**
 * Fills `into` from the start of the open file `fd` (`file` names it in errors), in bounded
 * steps; a file shorter than `into` is a FileReadFailure ('io'). `into` may be any byte view:
 * guest RAM itself, so a kernel goes there without a copy in between (./boot-file.ts).
 */
export function readOpenFileInto(fd: number, file: string, into: Uint8Array): void {
  let done = 0;
  try {
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, Math.min(STEP_BYTES, into.length - done), done);
      if (n === 0) throw new FileReadFailure('io', file, `${file} shrank while being read (${done} of ${into.length} bytes)`);
      done += n;
    }
  } catch (e) {
    if (e instanceof FileReadFailure) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadFailure('io', file, `cannot read ${file}: ${code ?? String(e)}`, { cause: e });
  }
}

/** The pieces readOpenFileIntoAsync reads at once (libuv's thread pool runs 4 at a time by default). */
const ASYNC_PIECE_BYTES = 2 * 1024 * 1024;

/**
 * readOpenFileInto on libuv's thread pool, in pieces read at once (no piece waits for the
 * calling thread, which goes on with other work; a network or 9p file system serves several
 * requests at a time). `into` must stay valid until the promise settles (guest RAM stays mapped);
 * it settles once every piece has ended, with the first failure.
 */
export async function readOpenFileIntoAsync(fd: number, file: string, into: Uint8Array): Promise<void> {
  const piece = async (start: number, end: number): Promise<void> => {
    for (let at = start; at < end; ) {
      const from = at;
      const n = await new Promise<number>((resolve, reject) => fs.read(fd, into, from, end - from, from, (e, read) => (e ? reject(e) : resolve(read))));
      if (n === 0) throw new FileReadFailure('io', file, `${file} shrank while being read (${from} of ${into.length} bytes)`);
      at += n;
    }
  };
  const pieces: Promise<void>[] = [];
  for (let start = 0; start < into.length; start += ASYNC_PIECE_BYTES) pieces.push(piece(start, Math.min(start + ASYNC_PIECE_BYTES, into.length)));
  try {
    await settleAll(pieces);
  } catch (e) {
    if (e instanceof FileReadFailure) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadFailure('io', file, `cannot read ${file}: ${code ?? String(e)}`, { cause: e });
  }
}

/** Read `file` under the rules above; throws FileReadFailure. */
export function readBoundedFile(file: string, options: BoundedReadOptions): Uint8Array {
  const { fd, st } = openBoundedFile(file, options);
  try {
    // fstat's size bounds the read: a file that grows meanwhile is read only up to it.
    const bytes = new Uint8Array(st.size);
    readOpenFileInto(fd, file, bytes);
    return bytes;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file input from a config option or a CLI flag: readBoundedFile, with every refusal a
 * ConfigError for `setting` naming the path (and the limit when it is the size).
 */
export function readInputFile(setting: string, file: string, limitBytes: number, options: { allowEmpty?: boolean } = {}): Uint8Array {
  try {
    return readBoundedFile(file, { limitBytes, ...options });
  } catch (e) {
    throw new ConfigError(setting, (e as Error).message);
  }
}
