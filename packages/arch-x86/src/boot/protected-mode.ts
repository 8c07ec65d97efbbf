/**
 * 32-bit protected mode, paging off, flat 4 GiB segments at CPL0 — entered directly. The GDT uses
 * the same selectors as the long-mode one (code 0x10, data 0x18) so guests can share constants.
 */
import { ConfigError } from '@kvmts/core';
import { CR0, RFLAGS } from './control-registers';
import { GUEST_LAYOUT } from './layout';
import type { ModeSetup } from './mode-setup';
import { toAddress } from './address';
import { resetSystemSegment } from './real-mode';
import { gdtEntryBytes, SEGMENT_TYPE, segmentFromDescriptor, type SegmentFields } from './segment';

export const PROTECTED_MODE_SELECTORS = { CODE: 0x10, DATA: 0x18 } as const;

const GDT_ROWS: readonly (readonly [offset: number, descriptor: bigint])[] = [
  [0x00, 0n], // null
  [0x08, 0n], // unused
  [0x10, 0x00cf9b000000ffffn], // code: 32-bit, 4 GiB flat, DPL 0
  [0x18, 0x00cf93000000ffffn], // data: 32-bit, 4 GiB flat, DPL 0
];
const GDT_BYTES = 0x20;

export interface ProtectedModeOptions {
  /** EIP at start. */
  readonly entry: number;
  /** ESP at start. */
  readonly stack: number;
  /** GDT address (0x20 bytes). Default GUEST_LAYOUT.gdt. */
  readonly gdtAddr?: number;
}

export function protectedModeSetup(options: ProtectedModeOptions): ModeSetup {
  const gdtAddr = options.gdtAddr ?? GUEST_LAYOUT.gdt;
  if (!Number.isSafeInteger(gdtAddr) || gdtAddr < 0 || gdtAddr + GDT_BYTES > 2 ** 32) {
    throw new ConfigError('protectedMode.gdtAddr', `must be an address below 4 GiB, got ${gdtAddr}`);
  }
  const rip = toAddress('protectedMode.entry', options.entry, 32);
  const rsp = toAddress('protectedMode.stack', options.stack, 32);
  const gdt = new Uint8Array(GDT_BYTES);
  for (const [offset, descriptor] of GDT_ROWS) gdt.set(gdtEntryBytes(descriptor), offset);
  const data = (): SegmentFields => segmentFromDescriptor(PROTECTED_MODE_SELECTORS.DATA, GDT_ROWS[3][1]);
  return {
    memoryWrites: [{ gpa: gdtAddr, bytes: gdt, name: 'GDT' }],
    sregs: {
      cs: segmentFromDescriptor(PROTECTED_MODE_SELECTORS.CODE, GDT_ROWS[2][1]),
      ds: data(),
      es: data(),
      fs: data(),
      gs: data(),
      ss: data(),
      tr: resetSystemSegment(SEGMENT_TYPE.TSS_BUSY),
      ldt: resetSystemSegment(SEGMENT_TYPE.LDT),
      gdt: { base: BigInt(gdtAddr), limit: GDT_BYTES - 1 },
      idt: { base: 0n, limit: 0 },
      cr0: CR0.PE | CR0.ET,
      cr3: 0n,
      cr4: 0n,
      efer: 0n,
    },
    regs: { rip, rsp, rflags: RFLAGS.FIXED },
  };
}
