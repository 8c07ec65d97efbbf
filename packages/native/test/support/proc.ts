/** Reads of /proc/self used to check fd flags and leaks. */
import * as fs from 'node:fs';

/** The `flags:` field of /proc/self/fdinfo/<fd> (octal in the file). */
export function fdFlags(fd: number): number {
  const text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s+([0-7]+)$/m.exec(text);
  if (match === null) throw new TypeError(`no flags line in fdinfo of fd ${fd}`);
  return parseInt(match[1], 8);
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function mapsLines(filter?: (line: string) => boolean): number {
  const lines = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.length > 0);
  return filter === undefined ? lines.length : lines.filter(filter).length;
}

/** True when the byte range [address, address + length) appears in /proc/self/maps. */
export function isMapped(address: bigint, length: number): boolean {
  const end = address + BigInt(length);
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .some((line) => {
      const [lo, hi] = line.split(' ')[0].split('-').map((h) => BigInt(`0x${h}`));
      return lo <= address && end <= hi;
    });
}
