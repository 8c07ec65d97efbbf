/**
 * releaseBytes against the real allocator: the C heap's bytes in use (in the arenas and in
 * mmapped blocks) show a 40 MiB buffer arrive and leave at the call, with no garbage collection
 * in between. Counted both ways because where glibc puts it depends on the process's past: a
 * block above the mmap threshold is mmapped, unless the arena's top already has that much free
 * (a jest worker that ran other suites first), and then it comes from there.
 */
import { constants, mallocStats, mmap, releaseBytes } from '../src';
import { settledHeap } from './support/gc';

const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;

const MiB = 1 << 20;

/** Bytes the C heap has handed out and not taken back: in its arenas and in mmapped blocks. */
function heldBytes(): number {
  const s = mallocStats();
  if (s === undefined) throw new TypeError('this host has glibc: mallinfo2 should be there');
  return s.inUseBytes + s.mmappedBytes;
}

describe('releaseBytes', () => {
  it('frees a whole buffer at once: its memory leaves the C heap and its typed arrays read empty', async () => {
    // Earlier garbage freed first; other threads (V8's, jest's) still allocate and free while the
    // 40 MiB are filled, so the arrival is checked loosely, the release (one call) tightly.
    await settledHeap(heldBytes);
    const before = heldBytes();
    const bytes = new Uint8Array(40 * MiB).fill(7);
    const alias = new DataView(bytes.buffer);
    const held = heldBytes();
    expect(held - before).toBeGreaterThan(32 * MiB);
    expect(releaseBytes(bytes)).toBe(true);
    expect(held - heldBytes()).toBeGreaterThan(39 * MiB);
    expect(bytes.length).toBe(0);
    expect(bytes.buffer.byteLength).toBe(0);
    // A DataView of a detached buffer throws instead of reading.
    expect(() => alias.getUint8(0)).toThrow(TypeError);
    // Twice is harmless: nothing is left to free.
    expect(releaseBytes(bytes)).toBe(false);
  });

  it('frees through any view that spans the whole buffer (a Node Buffer of its own, a DataView)', () => {
    const own = Buffer.allocUnsafeSlow(64 * 1024);
    expect(releaseBytes(own)).toBe(true);
    expect(own.length).toBe(0);
    const dv = new DataView(new ArrayBuffer(16));
    expect(releaseBytes(dv)).toBe(true);
    expect(dv.buffer.byteLength).toBe(0);
  });

  it('leaves a view that is part of a larger buffer alone (a subarray, a pooled Node Buffer)', () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const tail = whole.subarray(4);
    expect(releaseBytes(tail)).toBe(false);
    expect([...whole]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const head = whole.subarray(0, 4);
    expect(releaseBytes(head)).toBe(false);
    expect([...head]).toEqual([1, 2, 3, 4]);
    // Small Buffers share Node's 8 KiB pool with other Buffers.
    const pooled = Buffer.from('kvmts');
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength);
    expect(releaseBytes(pooled)).toBe(false);
    expect(pooled.toString()).toBe('kvmts');
  });

  it('leaves shared memory alone: other threads may hold it', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4096)).fill(9);
    expect(releaseBytes(shared)).toBe(false);
    expect(shared[4095]).toBe(9);
  });

  it("leaves a view over a mapping (guest RAM) alone: its bytes are the mapping's, and the view stays readable", () => {
    const m = mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      const bytes = new Uint8Array(m.view());
      bytes[7] = 0x5a;
      expect(releaseBytes(bytes)).toBe(false);
      expect(bytes.length).toBe(4096);
      expect(bytes[7]).toBe(0x5a);
    } finally {
      m.unmap();
    }
  });

  it('refuses what is not a view of bytes with a TypeError naming what it got', () => {
    expect(() => releaseBytes(new ArrayBuffer(8) as unknown as Uint8Array)).toThrow(/typed array or DataView, got object/);
    expect(() => releaseBytes(null as unknown as Uint8Array)).toThrow(/got null/);
    expect(() => releaseBytes('bytes' as unknown as Uint8Array)).toThrow(/got string/);
  });
});
