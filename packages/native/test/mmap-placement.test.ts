import * as fs from 'node:fs';
import { constants, liveMappingCount, mmap } from '../src';
import { expectSyscallError } from './support/errors';

const { PROT_READ, PROT_WRITE, PROT_NONE, MAP_PRIVATE, MAP_SHARED, MAP_ANONYMOUS, MAP_NORESERVE } = constants;
const RW = PROT_READ | PROT_WRITE;
const MiB2 = 2 * 1024 * 1024;

interface Vma { lo: bigint; hi: bigint; perms: string; flags: string }

/** /proc/self/smaps as address ranges with their permissions and VmFlags. */
function vmas(): Vma[] {
  const out: Vma[] = [];
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (head) out.push({ lo: BigInt(`0x${head[1]}`), hi: BigInt(`0x${head[2]}`), perms: head[3], flags: '' });
    else if (line.startsWith('VmFlags:') && out.length > 0) out[out.length - 1].flags = line.slice(8).trim();
  }
  return out;
}

/** The VMA that starts at `address`, and whether an inaccessible reservation was left beside it. */
function vmaAt(address: bigint): { vma: Vma | undefined; noneNeighbour: boolean } {
  const all = vmas();
  const i = all.findIndex((v) => v.lo === address);
  const vma = i < 0 ? undefined : all[i];
  const touching = [all[i - 1], all[i + 1]].filter((v) => v !== undefined && (v.hi === vma?.lo || v.lo === vma?.hi));
  return { vma, noneNeighbour: touching.some((v) => v.perms.startsWith('---p') && v.flags.includes('nr')) };
}

/** The address ranges mapped without any access (reservations, guard pages). */
function inaccessibleRanges(): [bigint, bigint][] {
  return vmas().filter((v) => v.perms.startsWith('---p')).map((v) => [v.lo, v.hi]);
}

/** The parts of `after`'s ranges that no range of `before` covers (both sorted, as /proc lists them). */
function newlyCovered(before: [bigint, bigint][], after: [bigint, bigint][]): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of after) {
    let cursor = lo;
    for (const [blo, bhi] of before) {
      if (bhi <= cursor || blo >= hi) continue;
      if (blo > cursor) out.push([cursor, blo]);
      cursor = bhi > cursor ? bhi : cursor;
      if (cursor >= hi) break;
    }
    if (cursor < hi) out.push([cursor, hi]);
  }
  return out;
}

describe('mmap placement', () => {
  it('places an aligned mapping at a multiple of the alignment and gives back the rest of the reservation', () => {
    // Several, so one that the kernel happened to align anyway proves nothing on its own.
    const maps = [3, 5, 7].map((pages) => mmap(64 * MiB2 + pages * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, { align: MiB2 }));
    try {
      for (const m of maps) {
        expect(m.address % BigInt(MiB2)).toBe(0n);
        const { vma, noneNeighbour } = vmaAt(m.address);
        expect(vma?.hi).toBe(m.address + BigInt(m.length));
        expect(noneNeighbour).toBe(false);
        // It is ordinary memory: written, read back.
        const view = new Uint8Array(m.view(m.length - 4096, 4096));
        view[4095] = 0xa5;
        expect(new Uint8Array(m.view(m.length - 4096, 4096))[4095]).toBe(0xa5);
      }
    } finally {
      for (const m of maps) m.unmap();
    }
  });

  it('asks for transparent huge pages when told to (VmFlags hg), and only then', () => {
    const huge = mmap(4 * MiB2, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { align: MiB2, hugePages: true });
    const plain = mmap(4 * MiB2, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { align: MiB2 });
    try {
      expect(vmaAt(huge.address).vma?.flags.split(' ')).toContain('hg');
      expect(vmaAt(plain.address).vma?.flags.split(' ')).not.toContain('hg');
    } finally {
      huge.unmap();
      plain.unmap();
    }
  });

  it('leaves nothing behind when the aligned mapping fails', () => {
    // The reservation would be length + align bytes of inaccessible memory. Other threads of this
    // process (V8's, the thread pool's, malloc's arenas) add and remove inaccessible mappings of
    // their own at any time, so counting them all is racy; an odd length makes the reservation's
    // size one nothing else here has, and a leaked one shows as exactly that much newly
    // inaccessible address space, merged into a neighbour or not.
    const length = 8 * MiB2 + 5 * 4096;
    const align = 2 * MiB2;
    const before = inaccessibleRanges();
    const live = liveMappingCount();
    expectSyscallError(() => mmap(length, PROT_READ, MAP_SHARED, -1, 0, { align }), 'mmap', 'EBADF');
    const added = newlyCovered(before, inaccessibleRanges()).map(([lo, hi]) => hi - lo);
    expect(added).not.toContain(BigInt(length + align));
    expect(liveMappingCount()).toBe(live);

    // The control: a reservation of that size that is left behind is seen.
    const left = mmap(length + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    try {
      expect(newlyCovered(before, inaccessibleRanges()).map(([lo, hi]) => hi - lo)).toContain(BigInt(length + align));
    } finally {
      left.unmap();
    }
  });

  it('refuses an alignment that is not a power of two, naming it', () => {
    expect(() => mmap(4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { align: 3 * MiB2 })).toThrow(/align 6291456 is not a power of two/);
    expect(() => mmap(4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { align: -MiB2 })).toThrow(RangeError);
  });

  it('treats align 0 and the page size as "anywhere"', () => {
    for (const align of [0, 4096]) {
      const m = mmap(4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, { align });
      try {
        expect(m.address % 4096n).toBe(0n);
      } finally {
        m.unmap();
      }
    }
  });
});
