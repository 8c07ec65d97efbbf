/**
 * An ELF kernel (Linux's vmlinux) through its PVH entry: the XEN_ELFNOTE_PHYS32_ENTRY note (type
 * 18, name "Xen") gives a physical 32-bit entry point; the kernel starts in flat 32-bit protected
 * mode with paging off and EBX = the physical address of `struct hvm_start_info`
 * (xen/interface/hvm/start_info.h, version 1: command line, the initrd as module 0, the memory map).
 */
import { ConfigError } from '@kvmts/core';
import { buildMemoryMap, checkRanges, encodeCmdline, hex, placeInitrd, rangeOf, type BootRange, type X86BootPlan } from './boot-plan';
import type { KernelLoadInput } from './bzimage';
import { parseElf, type ElfImage } from './elf';
import { X86_KERNEL_LAYOUT } from './kernel-layout';
import { elfSegments, protectedEntry } from './protected-entry';

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const HVM_START_MAGIC = 0x336ec578;

/** Offsets in the boot-information page: the start info, then the module list, then the memory map. */
export const HVM_START_INFO = {
  magic: 0, // u32
  version: 4, // u32
  flags: 8, // u32
  nrModules: 12, // u32
  modlistPaddr: 16, // u64
  cmdlinePaddr: 24, // u64
  rsdpPaddr: 32, // u64
  memmapPaddr: 40, // u64
  memmapEntries: 48, // u32
  bytes: 56,
  /** Where kvmts puts the module list and memory map inside the page. */
  modlistOffset: 0x40,
  memmapOffset: 0x80,
} as const;
/** struct hvm_modlist_entry: paddr, size, cmdline_paddr, reserved (u64 each). */
export const HVM_MODLIST_ENTRY_BYTES = 32;
/** struct hvm_memmap_table_entry: addr u64, size u64, type u32, reserved u32. */
export const HVM_MEMMAP_ENTRY_BYTES = 24;
/** The command line limit for PVH: Linux's COMMAND_LINE_SIZE on x86 (no header tells it). */
export const PVH_CMDLINE_MAX = 2047;

/** The PVH entry point from the ELF's notes, or undefined when it has none. */
export function pvhEntry(elf: ElfImage): number | undefined {
  const note = elf.notes.find((n) => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) return undefined;
  const d = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.length);
  // Linux writes it with _ASM_PTR: 8 bytes in a 64-bit kernel, 4 in a 32-bit one.
  const entry = note.desc.length === 4 ? d.getUint32(0, true) : note.desc.length === 8 ? d.getBigUint64(0, true) : undefined;
  if (entry === undefined) throw new ConfigError('boot.image', `the PVH entry note has a ${note.desc.length}-byte value; expected 4 or 8`);
  if (BigInt(entry) >= 2n ** 32n) throw new ConfigError('boot.image', `the PVH entry 0x${entry.toString(16)} is above 4 GiB, out of a 32-bit entry's reach`);
  return Number(entry);
}

export function planPvh(input: KernelLoadInput, elf: ElfImage = parseElf(input.image)): X86BootPlan {
  const entry = pvhEntry(elf);
  if (entry === undefined) throw new ConfigError('boot.image', 'the ELF file has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)');
  const L = X86_KERNEL_LAYOUT;
  const memoryMap = buildMemoryMap(input.ram);
  const maxEntries = Math.floor((L.bootInfoBytes - HVM_START_INFO.memmapOffset) / HVM_MEMMAP_ENTRY_BYTES);
  if (memoryMap.length > maxEntries) throw new ConfigError('memory', `${memoryMap.length} memory-map entries; the start-info page holds ${maxEntries}`);
  const cmdline = encodeCmdline(input.cmdline ?? '', PVH_CMDLINE_MAX, "Linux's COMMAND_LINE_SIZE");
  const { setup, gdt, stack } = protectedEntry(entry);
  const kernel = elfSegments(input.image, elf);
  const ranges: BootRange[] = [gdt, rangeOf('start info', L.bootInfo, L.bootInfoBytes), stack, rangeOf('command line', L.cmdline, cmdline.length), ...kernel.ranges];
  checkRanges(ranges, memoryMap);
  if (!kernel.ranges.some((r) => r.start <= entry && entry < r.end)) throw new ConfigError('boot.image', `the PVH entry ${hex(entry)} is in no loaded segment`);
  const initrdBytes = input.initrd?.length ?? 0;
  let initrd: BootRange | undefined;
  if (initrdBytes > 0) {
    initrd = placeInitrd(initrdBytes, 2 ** 32, memoryMap, ranges, '4 GiB');
    ranges.push(initrd);
  }

  const info = new Uint8Array(L.bootInfoBytes);
  const v = new DataView(info.buffer);
  const S = HVM_START_INFO;
  v.setUint32(S.magic, HVM_START_MAGIC, true);
  v.setUint32(S.version, 1, true);
  v.setUint32(S.flags, 0, true);
  v.setBigUint64(S.cmdlinePaddr, BigInt(L.cmdline), true);
  if (initrd) {
    v.setUint32(S.nrModules, 1, true);
    v.setBigUint64(S.modlistPaddr, BigInt(L.bootInfo + S.modlistOffset), true);
    v.setBigUint64(S.modlistOffset, BigInt(initrd.start), true);
    v.setBigUint64(S.modlistOffset + 8, BigInt(initrdBytes), true);
  }
  v.setBigUint64(S.memmapPaddr, BigInt(L.bootInfo + S.memmapOffset), true);
  v.setUint32(S.memmapEntries, memoryMap.length, true);
  memoryMap.forEach((e, i) => {
    const at = S.memmapOffset + i * HVM_MEMMAP_ENTRY_BYTES;
    v.setBigUint64(at, BigInt(e.addr), true);
    v.setBigUint64(at + 8, BigInt(e.size), true);
    v.setUint32(at + 16, e.type, true);
  });

  return {
    format: 'pvh',
    mode: 'protected',
    writes: [...setup.memoryWrites, { gpa: L.bootInfo, bytes: info }, { gpa: L.cmdline, bytes: cmdline }, ...kernel.writes, ...(initrd && input.initrd ? [{ gpa: initrd.start, bytes: input.initrd }] : [])],
    ranges,
    memoryMap,
    sregs: setup.sregs,
    regs: { ...setup.regs, rbx: BigInt(L.bootInfo) },
    ...(initrd ? { initrd: { start: initrd.start, size: initrdBytes } } : {}),
  };
}
