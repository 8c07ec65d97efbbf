/**
 * Reading a checkpoint's files with typed failures only: every file goes through the bounded
 * regular-file reader (files/bounded-file.ts), and every other filesystem call a restore makes
 * (stat, open of the memory image) is wrapped or checked, so a raw fs error never reaches the user. The
 * mapping: a missing file → code 'missing'; a file of the wrong kind or size → 'corrupt'; any
 * other failure of the filesystem (EACCES, EIO, …) → 'io', with the fs error as the cause.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { StatRecord } from '@kvmts/native';
import { CheckpointError, type CheckpointErrorCode } from '../errors/errors';
import { FileReadFailure, readBoundedFile, type FileReadProblem } from '../files/bounded-file';

/** A manifest is a few KiB of JSON; anything near this is not one. */
export const MANIFEST_LIMIT_BYTES = 16 * 1024 * 1024;

const CODES: Record<FileReadProblem, CheckpointErrorCode> = { missing: 'missing', 'not-regular': 'corrupt', 'too-large': 'corrupt', empty: 'corrupt', io: 'io' };

/** The file at `file` (reported as `where`), at most `limitBytes`; CheckpointError on any failure. */
export function readCheckpointFile(where: string, file: string, limitBytes: number): Uint8Array {
  try {
    return readBoundedFile(file, { limitBytes, allowEmpty: true });
  } catch (e) {
    if (e instanceof FileReadFailure) throw new CheckpointError(where, e.message, { code: CODES[e.problem], cause: e });
    throw new CheckpointError(where, `cannot be read: ${String(e)}`, { code: 'io', cause: e });
  }
}

/** Run a filesystem call for `where`; its raw error becomes a CheckpointError ('missing' for ENOENT, else 'io'). */
export function checkpointIo<T>(where: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(where, `${what} failed: ${code ?? String(e)}`, { code: code === 'ENOENT' ? 'missing' : 'io', cause: e });
  }
}

/** errno → its name ('EACCES'), for messages. */
function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}

/**
 * The memory image checked from its stat record (@kvmts/native statMany, taken with the other
 * files' identities): a regular file (it is mapped, so never a FIFO or device) of exactly `bytes`.
 */
export function checkMemoryImageRecord(where: string, record: StatRecord, bytes: number): void {
  if (record.errno === os.constants.errno.ENOENT) throw new CheckpointError(where, 'the memory image is missing', { code: 'missing' });
  if (record.errno !== undefined) throw new CheckpointError(where, `stat failed: ${errnoName(record.errno)}`, { code: 'io' });
  if ((record.mode & fs.constants.S_IFMT) !== fs.constants.S_IFREG) throw new CheckpointError(where, 'is not a regular file: the memory image is damaged', { code: 'corrupt' });
  if (record.size !== BigInt(bytes)) throw new CheckpointError(where, `is ${record.size} bytes, the manifest says ${bytes}: the memory image is damaged`, { code: 'corrupt' });
}
