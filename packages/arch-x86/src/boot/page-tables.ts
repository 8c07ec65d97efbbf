/**
 * Identity-map page tables for long mode, 2 MiB pages: one PML4, one PDPT, one PD per GiB.
 * Layout from `pml4Addr`: PML4 at +0, PDPT at +0x1000, PD i at +0x2000 + i·0x1000 — so the image
 * is (2 + ceil(mapBytes / 1 GiB)) pages. Covers at most 512 GiB (one PDPT).
 */
import { ConfigError } from '@kvmts/core';

export const PAGE_SIZE = 0x1000;
export const LARGE_PAGE_SIZE = 0x200000;
const GIB = 0x40000000;

/** Page-table entry bits (Intel SDM vol. 3 §4.5). */
export const PTE = {
  PRESENT: 1n << 0n,
  WRITABLE: 1n << 1n,
  /** U/S: user-mode (CPL3) accesses allowed — needed at every level for a CPL3 guest. */
  USER: 1n << 2n,
  /** PS in a PD entry: the entry maps a 2 MiB page. */
  LARGE: 1n << 7n,
} as const;

export interface IdentityMapOptions {
  /** Guest-physical address of the PML4; 4 KiB aligned. The rest follows it. */
  readonly pml4Addr: number;
  /** Bytes to map from GPA 0, rounded up to 2 MiB. 1 ≤ mapBytes ≤ 512 GiB. */
  readonly mapBytes: number;
  /** Set U/S in every entry so CPL3 code can use the mapping. */
  readonly user?: boolean;
}

export interface PageTableImage {
  /** Where `bytes` goes (= pml4Addr). */
  readonly gpa: number;
  readonly bytes: Uint8Array;
  /** CR3 value: the PML4 address (PCD/PWT clear). */
  readonly cr3: bigint;
}

export function identityMapPageTables(options: IdentityMapOptions): PageTableImage {
  const { pml4Addr, mapBytes } = options;
  if (!Number.isSafeInteger(pml4Addr) || pml4Addr < 0 || pml4Addr % PAGE_SIZE !== 0) {
    throw new ConfigError('pageTables.pml4Addr', `must be a 4 KiB aligned address, got ${pml4Addr}`);
  }
  if (!Number.isSafeInteger(mapBytes) || mapBytes < 1 || mapBytes > 512 * GIB) {
    throw new ConfigError('pageTables.mapBytes', `must be an integer in [1, 512 GiB], got ${mapBytes}`);
  }
  const largePages = Math.ceil(mapBytes / LARGE_PAGE_SIZE);
  const pdCount = Math.ceil(largePages / 512);
  const bytes = new Uint8Array((2 + pdCount) * PAGE_SIZE);
  const view = new DataView(bytes.buffer);
  const flags = PTE.PRESENT | PTE.WRITABLE | (options.user ? PTE.USER : 0n);
  const pdptAddr = BigInt(pml4Addr + PAGE_SIZE);

  view.setBigUint64(0, pdptAddr | flags, true);
  for (let i = 0; i < pdCount; i++) {
    const pdAddr = BigInt(pml4Addr + (2 + i) * PAGE_SIZE);
    view.setBigUint64(PAGE_SIZE + i * 8, pdAddr | flags, true);
  }
  for (let page = 0; page < largePages; page++) {
    view.setBigUint64(2 * PAGE_SIZE + page * 8, (BigInt(page) * BigInt(LARGE_PAGE_SIZE)) | flags | PTE.LARGE, true);
  }
  return { gpa: pml4Addr, bytes, cr3: BigInt(pml4Addr) };
}
