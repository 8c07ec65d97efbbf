/**
 * Whether guest RAM is anonymous memory of this process (a machine created from a config) or a
 * file mapping (a machine restored from a checkpoint maps its image). A save may skip the pages
 * of anonymous memory that were never written (native.nonZeroPages' skipUnpopulated), but must
 * read every page of a file mapping: an untouched page there holds the file's bytes.
 */
import * as fs from 'node:fs';

/** One /proc/self/maps line: `start-end perms offset dev inode [path]`. */
interface HostMapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly anonymous: boolean;
}

/** Parse /proc/self/maps text. A mapping is anonymous when its inode is 0 and it names no path. */
export function parseHostMappings(text: string): HostMapping[] {
  const out: HostMapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), anonymous: m[3] === '0' && m[4] === '' });
  }
  return out;
}

/** Whether [address, address + length) is covered, without gaps, by anonymous mappings in `mappings`. */
export function isAnonymousRange(mappings: readonly HostMapping[], address: bigint, length: number): boolean {
  const end = address + BigInt(length);
  let at = address;
  for (const m of [...mappings].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    if (m.end <= at || m.start > at) continue;
    if (!m.anonymous) return false;
    at = m.end;
    if (at >= end) return true;
  }
  return false;
}

/** This process's mappings now (empty when /proc is unreadable: then nothing counts as anonymous). */
export function hostMappings(): HostMapping[] {
  try {
    return parseHostMappings(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return [];
  }
}
