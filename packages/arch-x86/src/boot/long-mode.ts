/**
 * 64-bit long mode, entered directly (no firmware, no mode-switch code in the guest): a flat GDT
 * with kernel and user segments and a 64-bit TSS, identity-mapped page tables, and the register
 * values a CPU has after it has switched itself into long mode.
 *
 * With `cpl: 3` the guest starts in user mode: CS/SS hold DPL-3 descriptors (selector RPL 3),
 * RFLAGS.IOPL = 3 (and the TSS's I/O bitmap allows every port, see IO_BITMAP_BYTES) so `in`/`out`
 * work, and every page-table level has U/S set. That matters on this project's host: PVM runs guest CPL3 natively and emulates CPL0
 * instruction by instruction (testing-and-ci.md §2), so compute loops belong at CPL3.
 */
import { ConfigError } from '@kvmts/core';
import { CR0, CR4, EFER, RFLAGS } from './control-registers';
import { GUEST_LAYOUT } from './layout';
import type { DescriptorTableFields, MemoryWrite, ModeSetup, ModeSregs } from './mode-setup';
import { toAddress } from './address';
import { identityMapPageTables } from './page-tables';
import {
  encodeSystemDescriptor64,
  gdtEntryBytes,
  SEGMENT_TYPE,
  segmentFromDescriptor,
  unusableSegment,
  type SegmentFields,
} from './segment';

/** Selectors of the long-mode GDT (user selectors carry RPL 3). */
export const LONG_MODE_SELECTORS = {
  KERNEL_CODE: 0x10,
  KERNEL_DATA: 0x18,
  USER_CODE: 0x23,
  USER_DATA: 0x2b,
  TSS: 0x30,
} as const;

/**
 * The GDT, one row per 8-byte slot. 0x10/0x18 match the Linux boot protocol's __BOOT_CS/__BOOT_DS;
 * the TSS descriptor is 16 bytes (slots 0x30 and 0x38) and is written busy, as `ltr` leaves it.
 */
const GDT_ROWS: readonly (readonly [offset: number, descriptor: bigint])[] = [
  [0x00, 0n], // null
  [0x08, 0n], // unused, keeps the Linux selector numbers
  [0x10, 0x00af9b000000ffffn], // kernel code: 64-bit, DPL 0, execute/read
  [0x18, 0x00cf93000000ffffn], // kernel data: 4 GiB flat, DPL 0, read/write
  [0x20, 0x00affb000000ffffn], // user code: 64-bit, DPL 3
  [0x28, 0x00cff3000000ffffn], // user data: 4 GiB flat, DPL 3
];

/** GDT bytes (8 slots, TSS descriptor included); the TSS follows it. */
export const LONG_MODE_GDT_BYTES = 0x40;
/** The 64-bit TSS proper (Intel SDM vol. 3 §8.7). */
const TSS64_HEADER_BYTES = 0x68;
const TSS_RSP0 = 0x04;
const TSS_IOMAP_BASE = 0x66;
/**
 * An I/O permission bitmap covering all 65536 ports, all allowed (zero bits), plus the 0xff byte
 * the architecture requires after it. IOPL 3 alone should suffice on hardware, but KVM's PVM
 * emulates CPL3 `in`/`out` and consults the bitmap regardless (measured: without it `out` at CPL3
 * raises #GP; with it, it exits to userspace).
 */
const IO_BITMAP_BYTES = 0x2000 + 1;
/** The TSS with its I/O bitmap; TR.limit is this minus one. */
export const TSS64_BYTES = TSS64_HEADER_BYTES + IO_BITMAP_BYTES;

export interface LongModeOptions {
  /** RIP at start. */
  readonly entry: number | bigint;
  /** RSP at start. */
  readonly stack: number | bigint;
  /** Privilege level to start at. Default 0. */
  readonly cpl?: 0 | 3;
  /** GDT address; the TSS and its I/O bitmap follow at gdtAddr + 0x40 (0x20a9 bytes in all). Default GUEST_LAYOUT.gdt. */
  readonly gdtAddr?: number;
  /** PML4 address; tables take (2 + ceil(mapBytes / 1 GiB)) pages. Default GUEST_LAYOUT.pageTables. */
  readonly pageTableAddr?: number;
  /** Bytes identity-mapped from 0 with 2 MiB pages. Default 1 GiB. */
  readonly mapBytes?: number;
  /** TSS.RSP0: the stack the CPU switches to when an event arrives at CPL3. Default `stack`. */
  readonly kernelStack?: number | bigint;
  /**
   * IDTR. Default {base 0, limit 0}: an empty IDT, so any exception becomes a triple fault —
   * which is what the small test guests want (a fault is a test failure, loudly).
   */
  readonly idt?: DescriptorTableFields;
}

function checkGpa(setting: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 32) {
    throw new ConfigError(setting, `must be an integer address below 4 GiB, got ${value}`);
  }
}

function buildTss(rsp0: bigint): Uint8Array {
  const tss = new Uint8Array(TSS64_BYTES);
  const view = new DataView(tss.buffer);
  view.setBigUint64(TSS_RSP0, rsp0, true);
  view.setUint16(TSS_IOMAP_BASE, TSS64_HEADER_BYTES, true);
  tss[TSS64_BYTES - 1] = 0xff;
  return tss;
}

export function longModeSetup(options: LongModeOptions): ModeSetup {
  const cpl = options.cpl ?? 0;
  if (cpl !== 0 && cpl !== 3) throw new ConfigError('longMode.cpl', `must be 0 or 3, got ${String(cpl)}`);
  const gdtAddr = options.gdtAddr ?? GUEST_LAYOUT.gdt;
  const pageTableAddr = options.pageTableAddr ?? GUEST_LAYOUT.pageTables;
  checkGpa('longMode.gdtAddr', gdtAddr);
  checkGpa('longMode.pageTableAddr', pageTableAddr);
  const rip = toAddress('longMode.entry', options.entry);
  const rsp = toAddress('longMode.stack', options.stack);
  const rsp0 = toAddress('longMode.kernelStack', options.kernelStack ?? options.stack);

  const tables = identityMapPageTables({ pml4Addr: pageTableAddr, mapBytes: options.mapBytes ?? 0x40000000, user: cpl === 3 });
  const tssAddr = gdtAddr + LONG_MODE_GDT_BYTES;
  const gdtEnd = tssAddr + TSS64_BYTES;
  if (gdtAddr < pageTableAddr + tables.bytes.length && pageTableAddr < gdtEnd) {
    throw new ConfigError('longMode.gdtAddr', `GDT+TSS [${hex(gdtAddr)}, ${hex(gdtEnd)}) overlaps the page tables at ${hex(pageTableAddr)}`);
  }

  const [tssLow, tssHigh] = encodeSystemDescriptor64(BigInt(tssAddr), TSS64_BYTES - 1, SEGMENT_TYPE.TSS_BUSY);
  const gdt = new Uint8Array(LONG_MODE_GDT_BYTES + TSS64_BYTES);
  for (const [offset, descriptor] of GDT_ROWS) gdt.set(gdtEntryBytes(descriptor), offset);
  gdt.set(gdtEntryBytes(tssLow), LONG_MODE_SELECTORS.TSS);
  gdt.set(gdtEntryBytes(tssHigh), LONG_MODE_SELECTORS.TSS + 8);
  gdt.set(buildTss(rsp0), LONG_MODE_GDT_BYTES);

  const descriptorAt = (selector: number): bigint => GDT_ROWS[(selector & ~7) >> 3][1];
  const codeSel = cpl === 3 ? LONG_MODE_SELECTORS.USER_CODE : LONG_MODE_SELECTORS.KERNEL_CODE;
  const dataSel = cpl === 3 ? LONG_MODE_SELECTORS.USER_DATA : LONG_MODE_SELECTORS.KERNEL_DATA;
  const data = (): SegmentFields => segmentFromDescriptor(dataSel, descriptorAt(dataSel));

  const sregs: ModeSregs = {
    cs: segmentFromDescriptor(codeSel, descriptorAt(codeSel)),
    ds: data(),
    es: data(),
    fs: data(),
    gs: data(),
    ss: data(),
    tr: segmentFromDescriptor(LONG_MODE_SELECTORS.TSS, tssLow, tssHigh),
    ldt: unusableSegment(),
    gdt: { base: BigInt(gdtAddr), limit: LONG_MODE_GDT_BYTES - 1 },
    idt: options.idt ? { ...options.idt } : { base: 0n, limit: 0 },
    cr0: CR0.PE | CR0.ET | CR0.PG,
    cr3: tables.cr3,
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA,
  };
  const memoryWrites: MemoryWrite[] = [
    { gpa: gdtAddr, bytes: gdt, name: 'GDT and TSS' },
    { gpa: tables.gpa, bytes: tables.bytes, name: 'page tables' },
  ];
  return {
    memoryWrites,
    sregs,
    regs: { rip, rsp, rflags: RFLAGS.FIXED | (cpl === 3 ? RFLAGS.IOPL3 : 0n) },
  };
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
