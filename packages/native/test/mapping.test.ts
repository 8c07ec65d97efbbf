import { MAX_VIEW_LENGTH, MappingGoneError, constants, liveMappingCount, mappingById, mmap, pageSize } from '../src';
import { native } from '../src/binding';
import { expectSyscallError } from './support/errors';
import { forceGc } from './support/gc';
import { isMapped } from './support/proc';

const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_SHARED, MAP_ANONYMOUS, MAP_NORESERVE } = constants;
const RW = PROT_READ | PROT_WRITE;
const GiB4 = 2 ** 32;

describe('mmap', () => {
  it('reports the page size', () => {
    expect(pageSize()).toBe(4096);
  });

  it('writes through one view and reads through a second view and through mappingById', () => {
    const before = liveMappingCount();
    const m = mmap(3 * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      expect(liveMappingCount()).toBe(before + 1);
      expect(m.length).toBe(3 * 4096);
      expect(m.unmapped).toBe(false);
      expect(isMapped(m.address, m.length)).toBe(true);
      new Uint8Array(m.view()).set([1, 2, 3, 4], 4094);
      expect(Array.from(new Uint8Array(m.view(4094, 4)))).toEqual([1, 2, 3, 4]);
      const same = mappingById(m.id);
      expect({ id: same.id, address: same.address, length: same.length }).toEqual({
        id: m.id,
        address: m.address,
        length: m.length,
      });
      expect(new DataView(same.view(4096, 8)).getUint16(0, true)).toBe(0x0403);
    } finally {
      m.unmap();
    }
    expect(liveMappingCount()).toBe(before);
  });

  it('splits a 4 GiB + 8 KiB mapping into views of 4 GiB and 8 KiB that alias it', () => {
    const m = mmap(GiB4 + 8192, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    try {
      expect(MAX_VIEW_LENGTH).toBe(GiB4);
      const [low, high, ...rest] = m.views();
      expect([low.byteLength, high.byteLength, rest.length]).toEqual([GiB4, 8192, 0]);
      new Uint8Array(low)[GiB4 - 1] = 0x5a;
      new Uint8Array(high)[0] = 0xa5;
      new Uint8Array(high)[8191] = 0x77;
      expect(Array.from(new Uint8Array(m.view(GiB4 - 1, 2)))).toEqual([0x5a, 0xa5]);
      expect(new Uint8Array(mappingById(m.id).view(GiB4, 8192))[8191]).toBe(0x77);
      expect(() => m.view()).toThrow(RangeError);
      expect(() => m.view(0, GiB4 + 1)).toThrow(RangeError);
    } finally {
      m.unmap();
    }
  });

  it('rejects views outside the mapping', () => {
    const m = mmap(4096, RW, MAP_SHARED | MAP_ANONYMOUS);
    try {
      expect(() => m.view(4097)).toThrow(RangeError);
      expect(() => m.view(4000, 97)).toThrow(RangeError);
      expect(() => m.view(-1)).toThrow(RangeError);
      expect(() => m.view(0.5)).toThrow(RangeError);
      expect(m.view(4096).byteLength).toBe(0);
    } finally {
      m.unmap();
    }
  });

  it('unmap is idempotent, releases the memory, detaches this thread`s views, and view() then throws', () => {
    const m = mmap(8192, RW, MAP_SHARED | MAP_ANONYMOUS);
    const view = m.view();
    new Uint8Array(view)[0] = 1;
    const { id, address } = m;
    m.unmap();
    m.unmap();
    expect(m.unmapped).toBe(true);
    expect(isMapped(address, 8192)).toBe(false);
    expect(view.byteLength).toBe(0);
    expect(() => m.view()).toThrow(MappingGoneError);
    expect(() => mappingById(id)).toThrow(MappingGoneError);
  });

  it('views() hands out the same buffers while mapped (no new external memory per call), and none once unmapped, here or by another thread', () => {
    const m = mmap(3 * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    const first = m.views();
    const again = mappingById(m.id).views();
    expect(again).toHaveLength(1);
    expect(again[0]).toBe(first[0]);
    again.pop(); // callers own the array, not the cache
    expect(m.views()[0]).toBe(first[0]);
    m.unmap();
    expect(first[0].byteLength).toBe(0);
    expect(() => m.views()).toThrow(MappingGoneError);

    // Unmapped through the addon directly, as another thread's unmap() does: this thread's cache must not answer.
    const other = mmap(4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    const [view] = other.views();
    expect(native.unmap(other.id)).toBe(0);
    expect(() => other.views()).toThrow(MappingGoneError);
    expect(view.byteLength).toBe(4096); // not detachable from here: why unmap waits for every thread (file header)
    expect(() => mappingById(other.id)).toThrow(MappingGoneError); // and the cache entry goes with it

    // A buffer detached behind the cache's back (the addon's detach; a transfer copies these
    // buffers instead) reads as empty: the next views() makes new ones.
    const third = mmap(2 * 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      const [given] = third.views();
      const copy = structuredClone(given, { transfer: [given] });
      expect([copy.byteLength, given.byteLength]).toEqual([2 * 4096, 2 * 4096]);
      native.detach(given);
      expect(given.byteLength).toBe(0);
      const [fresh] = third.views();
      expect(fresh.byteLength).toBe(2 * 4096);
      expect(fresh).not.toBe(given);
    } finally {
      third.unmap();
    }
  });

  it('a view outlives garbage collection of its Mapping object (views never own the memory)', () => {
    const before = liveMappingCount();
    let id = 0;
    let address = 0n;
    (() => {
      const m = mmap(4096, RW, MAP_PRIVATE | MAP_ANONYMOUS);
      id = m.id;
      address = m.address;
      new Uint8Array(m.view())[7] = 42;
    })();
    forceGc();
    expect(isMapped(address, 4096)).toBe(true);
    const again = mappingById(id);
    expect(new Uint8Array(again.view())[7]).toBe(42);
    expect(liveMappingCount()).toBe(before + 1);
    again.unmap();
    expect(liveMappingCount()).toBe(before);
  });

  it('mappingById of an unknown id throws', () => {
    expect(() => mappingById(987654321)).toThrow(MappingGoneError);
  });

  it('throws EBADF naming mmap for a file mapping of fd -1', () => {
    expectSyscallError(() => mmap(4096, PROT_READ, MAP_SHARED, -1), 'mmap', 'EBADF');
  });

  it('throws RangeError for a length that is not a positive safe integer', () => {
    expect(() => mmap(-1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)).toThrow(RangeError);
    expect(() => mmap(1.5, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)).toThrow(RangeError);
  });
});
