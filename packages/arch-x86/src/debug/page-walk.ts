/**
 * A software walk of the guest's x86 page tables: guest-virtual → guest-physical, from CR0, CR3,
 * CR4 and EFER and a reader of guest-physical memory. It is the fallback for KVM_TRANSLATE and
 * a pure function, so it is tested on synthetic tables (Intel SDM vol. 3 ch. 4; AMD APM vol. 2
 * §5). Paging modes are tables of levels; the walk itself is one loop.
 *
 * Not modelled: protection keys, SMEP/SMAP, CR0.WP (the result reports the entries' R/W and U/S
 * bits, not whether a given access would fault), and PAE's PDPTE registers — the walk reads the
 * PDPTEs from memory, as the CPU does when CR3 is loaded.
 */

import { CR0, CR4, EFER } from '../boot/control-registers';

/** Control-register bits the walk reads (the one table of them is boot/control-registers.ts). */
export const PAGING_BITS = {
  cr0Pg: CR0.PG,
  cr4Pse: CR4.PSE,
  cr4Pae: CR4.PAE,
  cr4La57: CR4.LA57,
  eferLma: EFER.LMA,
  eferNxe: EFER.NXE,
} as const;

/** Page-table entry bits common to every format. */
const ENTRY = { present: 1n, writable: 1n << 1n, user: 1n << 2n, pageSize: 1n << 7n, nx: 1n << 63n } as const;

export type PagingMode = 'none' | '2-level' | 'pae' | '4-level' | '5-level';

interface PagingLevel {
  readonly name: string;
  /** Bit position of this level's index in the virtual address, and its width. */
  readonly shift: number;
  readonly bits: number;
  /** Entry size in bytes. */
  readonly entrySize: 4 | 8;
  /** The entry may map a page of 2^shift bytes with PS set (under `needsPse`: only when CR4.PSE). */
  readonly largePage?: 'always' | 'pse';
  /** PAE PDPTEs have no R/W or U/S bits (those positions are reserved): they do not restrict. */
  readonly noPermissions?: boolean;
}

const LONG_4: readonly PagingLevel[] = [
  { name: 'PML4', shift: 39, bits: 9, entrySize: 8 },
  { name: 'PDPT', shift: 30, bits: 9, entrySize: 8, largePage: 'always' },
  { name: 'PD', shift: 21, bits: 9, entrySize: 8, largePage: 'always' },
  { name: 'PT', shift: 12, bits: 9, entrySize: 8 },
];

/** The levels of each paging mode, root first. */
export const PAGING_LEVELS: Readonly<Record<Exclude<PagingMode, 'none'>, readonly PagingLevel[]>> = {
  '5-level': [{ name: 'PML5', shift: 48, bits: 9, entrySize: 8 }, ...LONG_4],
  '4-level': LONG_4,
  pae: [
    { name: 'PDPT', shift: 30, bits: 2, entrySize: 8, noPermissions: true },
    { name: 'PD', shift: 21, bits: 9, entrySize: 8, largePage: 'always' },
    { name: 'PT', shift: 12, bits: 9, entrySize: 8 },
  ],
  '2-level': [
    { name: 'PD', shift: 22, bits: 10, entrySize: 4, largePage: 'pse' },
    { name: 'PT', shift: 12, bits: 10, entrySize: 4 },
  ],
};

/** Physical-address bits 12..51 of an 8-byte entry (MAXPHYADDR at its architectural maximum). */
const ADDR_MASK_64 = 0x000f_ffff_ffff_f000n;
const ADDR_MASK_32 = 0xffff_f000n;

export interface PagingRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
}

/** Reads `size` bytes of guest-physical memory little-endian; undefined where there is no RAM. */
export type PhysReader = (gpa: bigint, size: 4 | 8) => bigint | undefined;

export type PageWalkResult =
  | {
      readonly valid: true;
      readonly gpa: bigint;
      readonly mode: PagingMode;
      /** Size of the page that maps the address (4 KiB, 2 MiB, 4 MiB, 1 GiB; 0 without paging). */
      readonly pageSize: number;
      /** R/W and U/S set at every level (what the tables allow, before CR0.WP/SMEP/SMAP). */
      readonly writable: boolean;
      readonly user: boolean;
      /** False when some level sets XD and EFER.NXE is on. */
      readonly executable: boolean;
    }
  | {
      readonly valid: false;
      readonly mode: PagingMode;
      /** Why: the level whose entry was not present, a non-canonical address, or a table outside RAM. */
      readonly reason: string;
    };

export function pagingMode(r: PagingRegisters): PagingMode {
  if ((r.cr0 & PAGING_BITS.cr0Pg) === 0n) return 'none';
  if ((r.cr4 & PAGING_BITS.cr4Pae) === 0n) return '2-level';
  if ((r.efer & PAGING_BITS.eferLma) === 0n) return 'pae';
  return (r.cr4 & PAGING_BITS.cr4La57) !== 0n ? '5-level' : '4-level';
}

/** The table root CR3 points at, per mode (PAE's PDPT is 32-byte aligned; 2-level ignores bits 32+). */
function rootAddress(mode: PagingMode, cr3: bigint): bigint {
  if (mode === 'pae') return cr3 & 0xffff_ffe0n;
  if (mode === '2-level') return cr3 & ADDR_MASK_32;
  return cr3 & ADDR_MASK_64;
}

/** Bits 32–39 of a 4 MiB page's address sit in PDE bits 13–20 (PSE-36). */
function pse36Base(pde: bigint): bigint {
  return (pde & 0xffc0_0000n) | (((pde >> 13n) & 0xffn) << 32n);
}

/** Translate `gva` by walking the tables `registers` select, reading them through `read`. */
export function walkPageTables(gva: bigint, registers: PagingRegisters, read: PhysReader): PageWalkResult {
  const mode = pagingMode(registers);
  if (mode === 'none') {
    return { valid: true, gpa: gva & 0xffff_ffffn, mode, pageSize: 0, writable: true, user: true, executable: true };
  }
  const levels = PAGING_LEVELS[mode];
  const vaBits = levels[0].shift + levels[0].bits;
  if (mode === '4-level' || mode === '5-level') {
    // Canonical: bits 63..vaBits-1 all equal.
    const top = gva >> BigInt(vaBits - 1);
    if (top !== 0n && top !== (1n << BigInt(65 - vaBits)) - 1n) return { valid: false, mode, reason: `0x${gva.toString(16)} is not canonical for ${mode} paging` };
  } else if (gva >= 1n << 32n) {
    return { valid: false, mode, reason: `0x${gva.toString(16)} is beyond the 32-bit address space of ${mode} paging` };
  }
  const nxe = (registers.efer & PAGING_BITS.eferNxe) !== 0n;
  const pse = (registers.cr4 & PAGING_BITS.cr4Pse) !== 0n;
  let table = rootAddress(mode, registers.cr3);
  let writable = true;
  let user = true;
  let executable = true;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    const index = (gva >> BigInt(level.shift)) & ((1n << BigInt(level.bits)) - 1n);
    const entryAddr = table + index * BigInt(level.entrySize);
    const entry = read(entryAddr, level.entrySize);
    if (entry === undefined) return { valid: false, mode, reason: `${level.name} entry at 0x${entryAddr.toString(16)} is outside guest RAM` };
    if ((entry & ENTRY.present) === 0n) return { valid: false, mode, reason: `${level.name} entry ${index} (at 0x${entryAddr.toString(16)}) is not present` };
    if (!level.noPermissions) {
      writable &&= (entry & ENTRY.writable) !== 0n;
      user &&= (entry & ENTRY.user) !== 0n;
    }
    if (nxe && level.entrySize === 8 && (entry & ENTRY.nx) !== 0n) executable = false;
    const last = i === levels.length - 1;
    const large = !last && (entry & ENTRY.pageSize) !== 0n && (level.largePage === 'always' || (level.largePage === 'pse' && pse));
    if (last || large) {
      const pageSize = 1n << BigInt(level.shift);
      const base = level.entrySize === 4 ? (large ? pse36Base(entry) : entry & ADDR_MASK_32) : entry & ADDR_MASK_64 & ~(pageSize - 1n);
      return { valid: true, gpa: base | (gva & (pageSize - 1n)), mode, pageSize: Number(pageSize), writable, user, executable };
    }
    table = level.entrySize === 4 ? entry & ADDR_MASK_32 : entry & ADDR_MASK_64;
  }
  return { valid: false, mode, reason: 'no level mapped the address' }; // not reached: the last level returns
}
