/**
 * Page checksums in one call: the CRC-32 (zlib's, as Node's zlib.crc32) of every selected page of
 * a view, for a checkpoint's memory image (one JS call per page cost as much as the checksums).
 */
import { native } from './binding';
import { syscallError } from './errors';

/**
 * The CRC-32 of each page `p` of `view` (`pageSize` bytes each) whose bit `firstBit + p` is set in
 * `selected` (bit n of byte n / 8, least significant first; undefined: every page), in page order,
 * as little-endian uint32s. Throws SyscallError (EINVAL) for a view that is not a whole number of
 * pages, or a bitmap too short for it.
 */
export function pageChecksums(view: Uint8Array, pageSize: number, selected?: Uint8Array, firstBit = 0): Buffer {
  const out = native.pageChecksums(view, pageSize, selected, firstBit);
  if (typeof out === 'number') throw syscallError(native, 'pageChecksums', out, `pageChecksums(${view.byteLength} bytes, pages of ${pageSize}, from bit ${firstBit})`);
  return out;
}
