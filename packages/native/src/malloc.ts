/**
 * The C heap's account of itself (glibc `mallinfo2()`, summed over every arena — the main
 * thread's and each worker thread's), and `malloc_trim(0)`. RSS mixes what the program holds
 * with what the allocator keeps free after a release (fragmentation, per-thread arenas); these
 * figures separate the two, so a leak hunt can tell a retained allocation from a plateau.
 */
import { native } from './binding';

/** Bytes, as mallinfo2 reports them. */
export interface MallocStats {
  /** Bytes the arenas obtained from the system (sbrk/mmap), excluding the big mmapped blocks. */
  readonly arenaBytes: number;
  /** Bytes in blocks mmapped one per allocation (at or above the mmap threshold). */
  readonly mmappedBytes: number;
  /** How many such mmapped blocks there are. */
  readonly mmappedBlocks: number;
  /** Bytes allocated and not freed, in the arenas. */
  readonly inUseBytes: number;
  /** Bytes free in the arenas: held by the allocator, not returned to the system. */
  readonly freeBytes: number;
  /** Free bytes at the top of the main arena that malloc_trim could return. */
  readonly releasableBytes: number;
}

/** The C heap's figures now, or undefined where the C library has no mallinfo2 (glibc < 2.33, musl). */
export function mallocStats(): MallocStats | undefined {
  const raw = native.mallocInfo();
  if (raw === undefined) return undefined;
  const [arenaBytes, mmappedBytes, inUseBytes, freeBytes, releasableBytes, mmappedBlocks] = raw;
  return { arenaBytes, mmappedBytes, mmappedBlocks, inUseBytes, freeBytes, releasableBytes };
}

/**
 * malloc_trim(0): give free arena memory back to the system. True when some went back; false
 * when none could (or the C library has no malloc_trim).
 */
export function mallocTrim(): boolean {
  return native.mallocTrim() === 1;
}
