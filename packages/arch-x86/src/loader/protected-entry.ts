/**
 * The 32-bit entry shared by PVH and Multiboot: flat 4 GiB code and data at CPL0, protected mode
 * with paging off, interrupts off (protectedModeSetup's GDT at X86_KERNEL_LAYOUT.gdt), and the
 * ELF loading both formats use (PT_LOAD segments at their physical addresses, .bss zeroed).
 */
import { ConfigError } from '@kvmts/core';
import { protectedModeSetup } from '../boot/protected-mode';
import type { MemoryWrite, ModeSetup } from '../boot/mode-setup';
import { hex, rangeOf, type BootRange } from './boot-plan';
import type { ElfImage } from './elf';
import { X86_KERNEL_LAYOUT } from './kernel-layout';

/** The 32-bit GDT protectedModeSetup writes (null, unused, code 0x10, data 0x18). */
export const PROTECTED_GDT_BYTES = 0x20;
/**
 * TR as the PVH ABI asks for it (start_info.h: "a 32-bit TSS (active) with a base of '0' and a
 * limit of '0x67'"); harmless for Multiboot, which leaves TR undefined.
 */
const TSS32_LIMIT = 0x67;

export function protectedEntry(entry: number): { setup: ModeSetup; gdt: BootRange; stack: BootRange } {
  const L = X86_KERNEL_LAYOUT;
  const setup = protectedModeSetup({ entry, stack: L.stackTop, gdtAddr: L.gdt });
  const sregs = { ...setup.sregs, tr: { ...setup.sregs.tr, limit: TSS32_LIMIT } };
  return {
    setup: { ...setup, sregs },
    gdt: rangeOf('GDT', L.gdt, PROTECTED_GDT_BYTES),
    stack: { what: 'boot stack', start: L.stackBase, end: L.stackTop },
  };
}

/** Writes and ranges of an ELF's PT_LOAD segments at their physical addresses (.bss as zeros). */
export function elfSegments(image: Uint8Array, elf: ElfImage): { writes: MemoryWrite[]; ranges: BootRange[] } {
  const writes: MemoryWrite[] = [];
  const ranges: BootRange[] = [];
  elf.segments.forEach((s, i) => {
    if (s.paddr + s.memBytes > 2 ** 32) throw new ConfigError('boot.image', `ELF segment ${i} at physical ${hex(s.paddr)} (+${s.memBytes}) ends above 4 GiB, out of a 32-bit entry's reach`);
    ranges.push(rangeOf(`kernel segment ${i}`, s.paddr, s.memBytes));
    if (s.fileBytes > 0) writes.push({ gpa: s.paddr, bytes: image.subarray(s.fileOffset, s.fileOffset + s.fileBytes) });
    // Guest RAM starts zeroed, but a plan says everything it relies on.
    if (s.memBytes > s.fileBytes) writes.push({ gpa: s.paddr + s.fileBytes, bytes: new Uint8Array(s.memBytes - s.fileBytes) });
  });
  return { writes, ranges };
}
