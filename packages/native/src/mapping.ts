/**
 * Memory mappings. The addon owns every mapping in a process-wide registry keyed by id, so
 * any thread reaches the same memory through `mappingById`, and only `unmap()` releases it.
 * ArrayBuffers handed out are non-owning views over the mapping: garbage collection of a
 * view or of a Mapping object never unmaps anything (a GC'd owning buffer once unmapped
 * guest RAM under a running guest).
 *
 * Views created by this thread are detached when this thread unmaps, so they read as
 * zero-length instead of dangling. Views held by other threads cannot be detached from
 * here: unmap only after every thread has stopped using the memory (and, for guest RAM,
 * after the memslot is removed).
 */
import { native } from './binding';
import { MappingGoneError, syscallError } from './errors';

export interface Mapping {
  readonly id: number;
  readonly address: bigint;
  readonly length: number;
  /** True once any thread unmapped it. */
  readonly unmapped: boolean;
  /** A non-owning ArrayBuffer over [offset, offset + length); at most 4 GiB. */
  view(offset?: number, length?: number): ArrayBuffer;
  /**
   * The whole mapping as consecutive views of at most 4 GiB each: the same buffers on each call
   * in a thread while it is mapped (the array is the caller's; a transfer copies these buffers).
   */
  views(): ArrayBuffer[];
  /** Releases the mapping; idempotent. Afterwards view() throws. */
  unmap(): void;
}

/**
 * One external ArrayBuffer is capped at 4 GiB on Node 20 (4 GiB + 4 KiB aborted Node). A
 * constant here, not read from the addon, so it needs no build; the addon refuses larger
 * views on its own (kMaxView in native/memory.cc).
 */
export const MAX_VIEW_LENGTH = 2 ** 32;

/** Views this thread created, per mapping id, so unmap() can detach them. */
const threadViews = new Map<number, WeakRef<ArrayBuffer>[]>();

/**
 * views()' answer per mapping id, this thread: the same buffers each time while the mapping
 * lives. Each new view of guest RAM makes V8 count its whole length as external memory, so a
 * fresh set of views of a 1 GiB guest per checkpoint cost every save two scavenges and a
 * mark-compact ("external memory pressure": ~5 ms of a ~20 ms incremental save).
 */
const wholeViews = new Map<number, ArrayBuffer[]>();

/** Every view over a mapping (any mapping, this thread): memory releaseBytes must not touch. */
const mappingViews = new WeakSet<ArrayBuffer>();

/** Whether `buffer` is a view over a mapping (guest RAM): detaching it would free nothing and empty this thread's view. */
export function isMappingView(buffer: ArrayBuffer): boolean {
  return mappingViews.has(buffer);
}

function remember(id: number, buffer: ArrayBuffer): void {
  mappingViews.add(buffer);
  let refs = threadViews.get(id);
  if (refs === undefined) {
    refs = [];
    threadViews.set(id, refs);
  } else if (refs.length >= 64) {
    refs = refs.filter((ref) => ref.deref() !== undefined);
    threadViews.set(id, refs);
  }
  refs.push(new WeakRef(buffer));
}

function detachAll(id: number): void {
  wholeViews.delete(id);
  for (const ref of threadViews.get(id) ?? []) {
    const buffer = ref.deref();
    if (buffer !== undefined) native.detach(buffer);
  }
  threadViews.delete(id);
}

function checkIndex(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`kvmts: ${name} ${value} outside 0..${max}`);
  }
}

class NativeMapping implements Mapping {
  constructor(
    readonly id: number,
    readonly address: bigint,
    readonly length: number,
  ) {}

  get unmapped(): boolean {
    return native.mappingInfo(this.id) === undefined;
  }

  view(offset = 0, length = this.length - offset): ArrayBuffer {
    checkIndex('view offset', offset, this.length);
    checkIndex('view length', length, this.length - offset);
    if (length > MAX_VIEW_LENGTH) {
      throw new RangeError(
        `kvmts: a view is at most ${MAX_VIEW_LENGTH} bytes (Node's ArrayBuffer limit), asked for ${length}; use views()`,
      );
    }
    const buffer = length === 0 ? undefined : native.mappingView(this.id, offset, length);
    if (buffer === undefined) {
      if (this.unmapped) throw new MappingGoneError(this.id);
      return new ArrayBuffer(0);
    }
    remember(this.id, buffer);
    return buffer;
  }

  views(): ArrayBuffer[] {
    const cached = wholeViews.get(this.id);
    if (cached !== undefined) {
      // Unmapped by another thread meanwhile: its views must not be handed out again. A buffer
      // detached since (the addon's detach) reads as empty: make new ones.
      const intact = cached.every((b, i) => b.byteLength === Math.min(MAX_VIEW_LENGTH, this.length - i * MAX_VIEW_LENGTH));
      if (this.unmapped || !intact) wholeViews.delete(this.id);
      else return [...cached];
    }
    const out: ArrayBuffer[] = [];
    for (let offset = 0; offset < this.length; offset += MAX_VIEW_LENGTH) {
      out.push(this.view(offset, Math.min(MAX_VIEW_LENGTH, this.length - offset)));
    }
    wholeViews.set(this.id, out);
    return [...out];
  }

  unmap(): void {
    detachAll(this.id);
    const rc = native.unmap(this.id);
    if (rc < 0) throw syscallError(native, 'munmap', rc, `munmap(mapping ${this.id})`);
  }
}

function wrap(id: number): Mapping {
  const info = native.mappingInfo(id);
  if (info === undefined) {
    // Gone (perhaps unmapped by another thread): forget this thread's views of it.
    wholeViews.delete(id);
    threadViews.delete(id);
    throw new MappingGoneError(id);
  }
  return new NativeMapping(id, info[0], info[1]);
}

/** Where and how mmap places a mapping (both default to "as the kernel likes"). */
export interface MmapPlacement {
  /** The mapping's address is a multiple of this (a power of two; 0 or the page size: anywhere). */
  readonly align?: number;
  /** Ask for transparent huge pages (madvise MADV_HUGEPAGE; advice, ignored by a kernel without THP). */
  readonly hugePages?: boolean;
}

/**
 * mmap(NULL, length, prot, flags, fd, offset). `fd` -1 or undefined for anonymous memory.
 * `placement` aligns the address and/or asks for huge pages: guest RAM wants both, since KVM maps
 * it to the guest in 2 MiB blocks only where host and guest addresses agree modulo 2 MiB.
 * Throws SyscallError (syscall 'mmap'; 'EFORKED' in a forked child), RangeError for an
 * alignment that is not a power of two.
 */
export function mmap(length: number, prot: number, flags: number, fd = -1, offset = 0, placement: MmapPlacement = {}): Mapping {
  checkIndex('mmap length', length, Number.MAX_SAFE_INTEGER);
  checkIndex('mmap offset', offset, Number.MAX_SAFE_INTEGER);
  const align = placement.align ?? 0;
  // Bitwise tests stop at 2^31; a power of two is exactly 2 ** its own log2.
  if (align !== 0 && !(Number.isSafeInteger(align) && align > 0 && 2 ** Math.round(Math.log2(align)) === align)) {
    throw new RangeError(`mmap align ${align} is not a power of two`);
  }
  const id = native.mmap(length, prot, flags, fd, offset, align, placement.hugePages === true);
  if (id < 0) throw syscallError(native, 'mmap', id, `mmap(${length} bytes, fd ${fd})`);
  return wrap(id);
}

/**
 * Map `fd` from `offset` over the whole of mapping `mapping`, in place
 * (mmap with MAP_FIXED at its address): its id, address and views stay valid, and a KVM memory
 * slot over it now sees the file's pages (the kernel's MMU notifiers drop the old ones).
 * `flags` without MAP_FIXED (added here), e.g. MAP_PRIVATE for a copy-on-write view of the file.
 * Throws SyscallError (syscall 'mmap'; ENOENT when the mapping is gone).
 */
export function remapFile(mapping: Mapping, prot: number, flags: number, fd: number, offset = 0): void {
  checkIndex('mmap offset', offset, Number.MAX_SAFE_INTEGER);
  const rc = native.remapFile(mapping.id, prot, flags, fd, offset);
  if (rc < 0) throw syscallError(native, 'mmap', rc, `mmap(MAP_FIXED over mapping ${mapping.id}, fd ${fd})`);
}

/**
 * Which pages of `view` hold a non-zero byte: one bit per `pageSize` bytes (bit n of byte n / 8,
 * least significant first). One native pass over the whole view — what a checkpoint save uses
 * to find the pages worth storing. Throws RangeError when the view's length is not a multiple
 * of `pageSize` (a positive multiple of 8).
 *
 * `skipUnpopulated`: only for a view of an anonymous private mapping (never of a file mapping,
 * whose unread pages hold the file's bytes). Pages with no page-table entry — never written, so
 * zero — are then not read at all (/proc/self/pagemap says which), which saves faulting in the
 * zero page for every untouched page of a large guest.
 */
export function nonZeroPages(view: Uint8Array, pageSize = 4096, skipUnpopulated = false): Uint8Array {
  const map = native.nonZeroPages(view, pageSize, skipUnpopulated);
  if (map === undefined) throw new RangeError(`kvmts: nonZeroPages needs a Uint8Array whose length (${view.byteLength}) is a multiple of the page size (${pageSize}, a multiple of 8)`);
  return map;
}

/** The mapping with this id, from any thread. Throws MappingGoneError if unknown/unmapped. */
export function mappingById(id: number): Mapping {
  return wrap(id);
}

/** Number of mappings not yet unmapped, process-wide (for leak tests). */
export function liveMappingCount(): number {
  return native.liveMappingCount();
}

/** sysconf(_SC_PAGESIZE). */
export function pageSize(): number {
  return native.pageSize();
}
