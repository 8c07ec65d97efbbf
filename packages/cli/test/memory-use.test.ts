/**
 * `kvmts boot --json`'s hostMemory (src/memory-use.ts): the /proc status fields and the resident
 * size of the guest RAM mappings found in smaps by their start address, on golden text.
 */
import { memoryUse, residentKiBAt, statusKiB } from '../src/memory-use';

const SMAPS = `55d0c0a00000-55d0c0b00000 r-xp 00000000 08:01 1234 /usr/bin/node
Size:               1024 kB
Rss:                 800 kB
Pss:                 800 kB
7f0000000000-7f0010000000 rw-p 00000000 00:00 0 
Size:             262144 kB
Rss:               61440 kB
Pss:               61440 kB
7f0010000000-7f0010100000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                1024 kB
7f2000000000-7f2040000000 rw-s 00000000 00:01 99 /memfd:ram (deleted)
Size:            1048576 kB
Rss:                4096 kB
`;

describe('memory use beyond guest RAM', () => {
  it('reads VmRSS and VmHWM from /proc status text', () => {
    const status = 'Name:\tnode\nVmHWM:\t  120000 kB\nVmRSS:\t  100000 kB\n';
    expect(statusKiB(status, 'VmRSS')).toBe(100000);
    expect(statusKiB(status, 'VmHWM')).toBe(120000);
    expect(() => statusKiB(status, 'VmSwap')).toThrow('/proc status has no VmSwap line');
  });

  it('sums the Rss of exactly the mappings that start at the given addresses', () => {
    expect(residentKiBAt(SMAPS, [0x7f0000000000n])).toBe(61440);
    expect(residentKiBAt(SMAPS, [0x7f0000000000n, 0x7f2000000000n])).toBe(61440 + 4096);
    expect(residentKiBAt(SMAPS, [0x7f0000001000n])).toBe(0); // inside a mapping, not its start
    expect(residentKiBAt(SMAPS, [])).toBe(0);
  });

  it('for this process: no guest mappings means the VMM share is the whole resident set', () => {
    const m = memoryUse([]);
    expect(m.guestRssKiB).toBe(0);
    expect(m.vmmRssKiB).toBe(m.rssKiB);
    expect(m.peakRssKiB).toBeGreaterThanOrEqual(m.rssKiB);
    expect(m.rssKiB).toBeGreaterThan(10_000);
  });
});
