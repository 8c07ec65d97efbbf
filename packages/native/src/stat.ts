/**
 * The identity of several files in one call: stat(2) of each path, packed into one Buffer.
 *
 * Made for "is this set of files unchanged since I last checked them?" (core's checkpoint
 * snapshot cache): keep the Buffer from the check, call statMany again later, compare the two
 * with one `Buffer.equals`. fs.statSync per file costs a crossing, a Stats object (BigIntStats
 * with four Dates for nanosecond times) and a path string per file; this costs one crossing.
 *
 * Each path's record is STAT_RECORD_BYTES: six little-endian int64 words — st_mode (or -errno
 * when stat failed: the file is missing, unreadable, … — the other words then 0), st_dev,
 * st_ino, st_size, mtime in ns, ctime in ns. Symlinks are followed (as fs.statSync).
 */
import { native } from './binding';
import { syscallError } from './errors';

/** Bytes per path in statMany's result. */
export const STAT_RECORD_BYTES = 48;

/** One path's record, decoded. `errno` is set (and every other field 0) when stat failed. */
export interface StatRecord {
  readonly errno?: number;
  readonly mode: number;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** stat(2) of every path, in order (see the file header for the layout). Throws SyscallError (EINVAL) for a non-string path. */
export function statMany(paths: readonly string[]): Buffer {
  const out = native.statMany(paths);
  if (typeof out === 'number') throw syscallError(native, 'stat', out, `statMany(${paths.length} paths)`);
  return out;
}

/** Record `index` of a statMany result. */
export function statRecord(stats: Buffer, index: number): StatRecord {
  const at = index * STAT_RECORD_BYTES;
  if (!Number.isInteger(index) || index < 0 || at + STAT_RECORD_BYTES > stats.byteLength) throw new RangeError(`statRecord: no record ${index} in ${stats.byteLength / STAT_RECORD_BYTES}`);
  const status = stats.readBigInt64LE(at);
  const word = (i: number) => stats.readBigInt64LE(at + 8 * i);
  const record = { mode: status < 0n ? 0 : Number(status), dev: word(1), ino: word(2), size: word(3), mtimeNs: word(4), ctimeNs: word(5) };
  return status < 0n ? { errno: Number(-status), ...record } : record;
}
