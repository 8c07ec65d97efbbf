/**
 * A piece of guest-physical address space backed by host memory.
 *
 * The flags mirror gem5's AbstractMemory options, because a simulator composes memories with
 * different roles:
 *  - kvmMap: becomes a KVM memory slot (guest accesses run at native speed). Regions with
 *    kvmMap = false are served as MMIO through a memory-backed device: every access exits.
 *  - inAddrMap: visible in the guest-physical address map at all (false = host-side backing store).
 *  - confReported: reported to the guest as RAM by boot builders (e820 / FDT memory nodes).
 *  - readOnly: a KVM_MEM_READONLY slot; guest writes exit as MMIO.
 *  - dirtyLog: the slot logs dirty pages (KVM_MEM_LOG_DIRTY_PAGES).
 */
export interface MemoryRegionOptions {
  readonly name: string;
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly kvmMap?: boolean;
  readonly inAddrMap?: boolean;
  readonly confReported?: boolean;
  readonly readOnly?: boolean;
  readonly dirtyLog?: boolean;
  /**
   * Back the region with a file instead of anonymous memory: `size` bytes of `fd` from `offset`,
   * mapped MAP_PRIVATE — pages load from the file on first touch and guest writes stay private
   * (the file is never written). A checkpoint restore maps its memory image this way. The caller
   * may close `fd` once the region exists (the mapping keeps the file).
   */
  readonly backing?: MemoryBacking;
  /**
   * Ask the host for transparent huge pages for this region (madvise MADV_HUGEPAGE), so KVM can
   * map it to the guest in 2 MiB blocks: far fewer guest page faults while a kernel boots.
   * Default true for anonymous memory; a file backing never gets it (its copy-on-write pages are
   * small pages). Turn it off when a guest touches memory sparsely and host memory is tight:
   * one touched byte can then make 2 MiB resident. Every region of 2 MiB or more is placed at a
   * 2 MiB-aligned host address whatever this says (KVM's block mappings need it; it costs
   * address space only).
   */
  readonly hugePages?: boolean;
}

/** A file range that backs a region (MemoryRegionOptions.backing). */
export interface MemoryBacking {
  readonly fd: number;
  /** Byte offset in the file, a multiple of the page size. */
  readonly offset: number;
}

export interface MemoryRegion {
  readonly name: string;
  readonly guestPhysAddr: number;
  readonly size: number;
  readonly kvmMap: boolean;
  readonly inAddrMap: boolean;
  readonly confReported: boolean;
  readonly readOnly: boolean;
  readonly dirtyLog: boolean;
  /** KVM slot number, or -1 when not a KVM slot. */
  readonly slot: number;
  /** Id of the native mapping that backs it (native.mappingById works in any thread). */
  readonly mappingId: number;
  /** Host virtual address of the backing mapping. */
  readonly hostAddress: bigint;
}

/** Host page size that KVM slots must be aligned to. */
export const GUEST_PAGE_SIZE = 4096;
