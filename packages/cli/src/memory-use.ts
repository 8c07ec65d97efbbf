/**
 * How much host memory a VMM process holds beyond its guest's RAM — the figure the boot
 * benchmark compares against a bare Node process. The process's resident set (VmRSS) includes
 * every guest page the guest has touched, so the guest RAM mappings' own resident sizes (from
 * /proc/self/smaps, found by their start address) are taken out of it.
 */
import * as fs from 'node:fs';

export interface MemoryUse {
  /** The whole process's resident set now (VmRSS), KiB. */
  readonly rssKiB: number;
  /** Its peak (VmHWM), KiB. */
  readonly peakRssKiB: number;
  /** The resident part of the guest RAM mappings, KiB. */
  readonly guestRssKiB: number;
  /** rssKiB − guestRssKiB: the VMM's own memory (Node, modules, worker threads, device state). */
  readonly vmmRssKiB: number;
}

/** A `VmRSS:   1234 kB`-style field of /proc/<pid>/status, in KiB. */
export function statusKiB(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!m) throw new Error(`/proc status has no ${field} line`);
  return Number(m[1]);
}

/**
 * The summed `Rss:` of the smaps mappings that start at one of `starts` (host addresses). A
 * mapping's header line is `start-end perms offset dev inode [path]` in hex; its fields follow.
 */
export function residentKiBAt(smaps: string, starts: readonly bigint[]): number {
  const wanted = new Set(starts);
  let inWanted = false;
  let total = 0;
  for (const line of smaps.split('\n')) {
    const header = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (header) {
      inWanted = wanted.has(BigInt(`0x${header[1]}`));
      continue;
    }
    const rss = inWanted ? /^Rss:\s+(\d+) kB$/.exec(line) : null;
    if (rss) total += Number(rss[1]);
  }
  return total;
}

/** This process's memory now, the guest RAM at `guestRamStarts` taken apart. Linux only. */
export function memoryUse(guestRamStarts: readonly bigint[]): MemoryUse {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const rssKiB = statusKiB(status, 'VmRSS');
  const guestRssKiB = residentKiBAt(fs.readFileSync('/proc/self/smaps', 'utf8'), guestRamStarts);
  return { rssKiB, peakRssKiB: statusKiB(status, 'VmHWM'), guestRssKiB, vmmRssKiB: rssKiB - guestRssKiB };
}
