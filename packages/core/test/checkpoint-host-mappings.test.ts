/** Which guest RAM is anonymous memory (a save may skip its never-written pages) — /proc/self/maps parsing. */
import * as native from '@kvmts/native';
import { hostMappings, isAnonymousRange, parseHostMappings } from '../src/checkpoint/host-mappings';

const MAPS = [
  '7f0000000000-7f0000200000 rw-p 00000000 00:00 0 ',
  '7f0000200000-7f0000400000 rw-p 00000000 00:00 0',
  '7f0000400000-7f0000600000 rw-p 00000000 fd:01 1234                       /var/tmp/ck/memory.img',
  '7f0000800000-7f0000a00000 rw-p 00000000 00:00 0                          [heap]',
  'not a line',
].join('\n');

describe('host mappings', () => {
  it('parses /proc/self/maps lines: anonymous = inode 0 and no path (golden)', () => {
    expect(parseHostMappings(MAPS)).toEqual([
      { start: 0x7f0000000000n, end: 0x7f0000200000n, anonymous: true },
      { start: 0x7f0000200000n, end: 0x7f0000400000n, anonymous: true },
      { start: 0x7f0000400000n, end: 0x7f0000600000n, anonymous: false },
      { start: 0x7f0000800000n, end: 0x7f0000a00000n, anonymous: false },
    ]);
  });

  it('a range is anonymous only when anonymous mappings cover all of it', () => {
    const maps = parseHostMappings(MAPS);
    expect(isAnonymousRange(maps, 0x7f0000000000n, 0x400000)).toBe(true); // two adjacent mappings
    expect(isAnonymousRange(maps, 0x7f0000100000n, 0x100000)).toBe(true);
    expect(isAnonymousRange(maps, 0x7f0000300000n, 0x200000)).toBe(false); // runs into the file
    expect(isAnonymousRange(maps, 0x7f0000600000n, 0x100000)).toBe(false); // a gap
    expect(isAnonymousRange(maps, 0x7f0000800000n, 0x1000)).toBe(false); // named ([heap])
  });

  it("finds this process's own anonymous mmap", () => {
    const c = native.constants;
    const m = native.mmap(64 * 4096, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS);
    try {
      expect(isAnonymousRange(hostMappings(), m.address, m.length)).toBe(true);
    } finally {
      m.unmap();
    }
  });
});
