/**
 * Multiboot (version 1) kernels as QEMU's `-kernel` loads them: the header (magic 0x1BADB002,
 * 4-aligned within the first 8 KiB, magic + flags + checksum = 0), the image either through the
 * a.out kludge (flag 16: the header's load addresses) or as an ELF (PT_LOAD by physical address),
 * the multiboot_info structure (memory sizes, command line, the initrd as module 0, the BIOS-style
 * memory map, the loader name), and the entry state: flat 32-bit protected mode, paging off,
 * EAX = 0x2BADB002, EBX = the info structure.
 */
import { ConfigError } from '@kvmts/core';
import { alignUp, buildMemoryMap, checkRanges, encodeCmdline, hex, placeInitrd, rangeOf, type BootRange, type E820Entry, type X86BootPlan } from './boot-plan';
import type { KernelLoadInput } from './bzimage';
import { isElf, parseElf, type ElfImage } from './elf';
import { E820_TYPE, X86_KERNEL_LAYOUT } from './kernel-layout';
import { elfSegments, protectedEntry } from './protected-entry';
import type { MemoryWrite } from '../boot/mode-setup';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie in the first 8 KiB of the file. */
export const MULTIBOOT_SEARCH_BYTES = 8192;

/** Header flags: bits 0–15 are requirements a loader must meet or refuse. */
export const MULTIBOOT_HEADER_FLAGS = {
  PAGE_ALIGN: 1 << 0, // modules page-aligned: kvmts always does
  MEMORY_INFO: 1 << 1, // mem_* and mmap: always given
  VIDEO_MODE: 1 << 2, // a video mode: kvmts has no display; ignored, as QEMU does
  AOUT_KLUDGE: 1 << 16,
} as const;
const SUPPORTED_REQUIREMENTS = MULTIBOOT_HEADER_FLAGS.PAGE_ALIGN | MULTIBOOT_HEADER_FLAGS.MEMORY_INFO | MULTIBOOT_HEADER_FLAGS.VIDEO_MODE;

/** multiboot_info flags kvmts sets, and the fields' offsets. */
export const MULTIBOOT_INFO = {
  flags: 0,
  memLower: 4,
  memUpper: 8,
  cmdline: 16,
  modsCount: 20,
  modsAddr: 24,
  mmapLength: 44,
  mmapAddr: 48,
  bootLoaderName: 64,
  bytes: 88,
  /** Where kvmts puts the module list, the memory map and the strings inside the page. */
  modsOffset: 0x60,
  mmapOffset: 0x80,
  FLAG_MEM: 1 << 0,
  FLAG_CMDLINE: 1 << 2,
  FLAG_MODS: 1 << 3,
  FLAG_MMAP: 1 << 6,
  FLAG_LOADER_NAME: 1 << 9,
} as const;
/** A module entry: mod_start, mod_end, string, reserved (u32 each). */
export const MULTIBOOT_MODULE_BYTES = 16;
/** An mmap entry: size (u32, = 20, not counting itself), base_addr u64, length u64, type u32. */
export const MULTIBOOT_MMAP_ENTRY_BYTES = 24;
const LOADER_NAME = 'kvmts';
const INITRD_MODULE_STRING = 'initrd';
/** Multiboot has no limit of its own; kvmts keeps Linux's x86 COMMAND_LINE_SIZE. */
export const MULTIBOOT_CMDLINE_MAX = 2047;

export interface MultibootHeader {
  /** File offset of the header. */
  readonly offset: number;
  readonly flags: number;
  /** The a.out kludge fields (flag 16). */
  readonly aout?: { readonly headerAddr: number; readonly loadAddr: number; readonly loadEndAddr: number; readonly bssEndAddr: number; readonly entryAddr: number };
}

/**
 * Finds the Multiboot header: the first 4-aligned magic in the first 8 KiB whose checksum holds
 * (QEMU's search: a magic with a bad checksum is skipped). Undefined when there is none;
 * `badChecksumAt` says where a magic was found with a wrong checksum, for the error message.
 */
export function findMultibootHeader(image: Uint8Array): { header?: MultibootHeader; badChecksumAt?: number } {
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const end = Math.min(image.length, MULTIBOOT_SEARCH_BYTES) - 12;
  let badChecksumAt: number | undefined;
  for (let at = 0; at <= end; at += 4) {
    if (view.getUint32(at, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(at + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + view.getUint32(at + 8, true)) >>> 0) !== 0) {
      badChecksumAt ??= at;
      continue;
    }
    if (!(flags & MULTIBOOT_HEADER_FLAGS.AOUT_KLUDGE)) return { header: { offset: at, flags } };
    if (at + 32 > image.length) throw new ConfigError('boot.image', `Multiboot header at ${hex(at)} truncated: the a.out kludge fields (flag 16) end past the file`);
    const u = (o: number) => view.getUint32(at + o, true);
    return { header: { offset: at, flags, aout: { headerAddr: u(12), loadAddr: u(16), loadEndAddr: u(20), bssEndAddr: u(24), entryAddr: u(28) } } };
  }
  return { badChecksumAt };
}

interface LoadedKernel {
  readonly writes: MemoryWrite[];
  readonly ranges: BootRange[];
  readonly entry: number;
}

/** The a.out kludge: file bytes from the header's load address on, then zeroed bss. */
function loadAout(image: Uint8Array, h: MultibootHeader): LoadedKernel {
  const a = h.aout!;
  if (a.loadAddr > a.headerAddr) throw new ConfigError('boot.image', `Multiboot load_addr ${hex(a.loadAddr)} is above header_addr ${hex(a.headerAddr)}`);
  const fileStart = h.offset - (a.headerAddr - a.loadAddr);
  if (fileStart < 0) throw new ConfigError('boot.image', `Multiboot header_addr ${hex(a.headerAddr)} − load_addr ${hex(a.loadAddr)} reaches before the start of the file`);
  const loadBytes = a.loadEndAddr === 0 ? image.length - fileStart : a.loadEndAddr - a.loadAddr;
  if (loadBytes <= 0) throw new ConfigError('boot.image', `Multiboot load_end_addr ${hex(a.loadEndAddr)} is not above load_addr ${hex(a.loadAddr)}`);
  if (fileStart + loadBytes > image.length) throw new ConfigError('boot.image', `Multiboot image truncated: load_end_addr asks for file bytes up to ${hex(fileStart + loadBytes)}, the file has ${image.length}`);
  const loadEnd = a.loadAddr + loadBytes;
  const bssEnd = a.bssEndAddr === 0 ? loadEnd : a.bssEndAddr;
  if (bssEnd < loadEnd) throw new ConfigError('boot.image', `Multiboot bss_end_addr ${hex(a.bssEndAddr)} is below the loaded image's end ${hex(loadEnd)}`);
  if (a.entryAddr < a.loadAddr || a.entryAddr >= loadEnd) throw new ConfigError('boot.image', `Multiboot entry_addr ${hex(a.entryAddr)} is outside the loaded image [${hex(a.loadAddr)}, ${hex(loadEnd)})`);
  const writes: MemoryWrite[] = [{ gpa: a.loadAddr, bytes: image.subarray(fileStart, fileStart + loadBytes) }];
  if (bssEnd > loadEnd) writes.push({ gpa: loadEnd, bytes: new Uint8Array(bssEnd - loadEnd) });
  return { writes, ranges: [{ what: 'kernel (a.out kludge)', start: a.loadAddr, end: bssEnd }], entry: a.entryAddr };
}

/** An ELF Multiboot kernel: segments by physical address; a virtual e_entry is translated through its segment. */
function loadElf(image: Uint8Array, elf: ElfImage): LoadedKernel {
  const { writes, ranges } = elfSegments(image, elf);
  const seg = elf.segments.find((s) => s.vaddr <= elf.entry && elf.entry < s.vaddr + BigInt(s.memBytes));
  if (!seg) throw new ConfigError('boot.image', `ELF entry 0x${elf.entry.toString(16)} is in no PT_LOAD segment`);
  return { writes, ranges, entry: seg.paddr + Number(elf.entry - seg.vaddr) };
}

/** mem_lower / mem_upper in KiB: RAM from 0 (at most 640 KiB) and RAM from 1 MiB up to the first hole. */
function memorySizes(map: readonly E820Entry[]): { lower: number; upper: number } {
  const ram = map.filter((e) => e.type === E820_TYPE.RAM);
  const low = ram.find((e) => e.addr === 0);
  const high = ram.find((e) => e.addr === X86_KERNEL_LAYOUT.highMemory);
  return { lower: Math.floor(Math.min(low?.size ?? 0, 640 * 1024) / 1024), upper: Math.min(Math.floor((high?.size ?? 0) / 1024), 0xffffffff) };
}

export function isMultiboot(image: Uint8Array): boolean {
  return findMultibootHeader(image).header !== undefined;
}

export function planMultiboot(input: KernelLoadInput): X86BootPlan {
  const found = findMultibootHeader(input.image);
  const h = found.header;
  if (!h) {
    const why = found.badChecksumAt !== undefined ? ` (a magic at ${hex(found.badChecksumAt)} has a bad checksum)` : '';
    throw new ConfigError('boot.image', `no Multiboot header in the first 8 KiB${why}`);
  }
  const unsupported = h.flags & 0xffff & ~SUPPORTED_REQUIREMENTS;
  if (unsupported) throw new ConfigError('boot.image', `the Multiboot header requires flag bits ${hex(unsupported)}, which kvmts does not provide`);
  let kernel: LoadedKernel;
  if (h.aout) kernel = loadAout(input.image, h);
  else if (isElf(input.image)) kernel = loadElf(input.image, parseElf(input.image));
  else throw new ConfigError('boot.image', 'a Multiboot kernel that is neither an ELF file nor uses the a.out kludge (flag 16): kvmts cannot tell where to load it');

  const L = X86_KERNEL_LAYOUT;
  const M = MULTIBOOT_INFO;
  const memoryMap = buildMemoryMap(input.ram);
  const loaderNameAt = M.mmapOffset + memoryMap.length * MULTIBOOT_MMAP_ENTRY_BYTES;
  const moduleStringAt = loaderNameAt + LOADER_NAME.length + 1;
  if (moduleStringAt + INITRD_MODULE_STRING.length + 1 > L.bootInfoBytes) throw new ConfigError('memory', `${memoryMap.length} memory-map entries do not fit the multiboot info page`);
  const cmdline = encodeCmdline(input.cmdline ?? '', MULTIBOOT_CMDLINE_MAX, 'the Multiboot loader (COMMAND_LINE_SIZE)');
  const { setup, gdt, stack } = protectedEntry(kernel.entry);
  const ranges: BootRange[] = [gdt, rangeOf('multiboot info', L.bootInfo, L.bootInfoBytes), stack, rangeOf('command line', L.cmdline, cmdline.length), ...kernel.ranges];
  checkRanges(ranges, memoryMap);
  const initrdBytes = input.initrd?.length ?? 0;
  let initrd: BootRange | undefined;
  if (initrdBytes > 0) {
    initrd = placeInitrd(alignUp(initrdBytes, L.pageBytes), 2 ** 32, memoryMap, ranges, '4 GiB');
    initrd = { ...initrd, end: initrd.start + initrdBytes };
    ranges.push(initrd);
  }

  const info = new Uint8Array(L.bootInfoBytes);
  const v = new DataView(info.buffer);
  const sizes = memorySizes(memoryMap);
  v.setUint32(M.flags, M.FLAG_MEM | M.FLAG_CMDLINE | M.FLAG_MODS | M.FLAG_MMAP | M.FLAG_LOADER_NAME, true);
  v.setUint32(M.memLower, sizes.lower, true);
  v.setUint32(M.memUpper, sizes.upper, true);
  v.setUint32(M.cmdline, L.cmdline, true);
  v.setUint32(M.modsCount, initrd ? 1 : 0, true);
  v.setUint32(M.modsAddr, L.bootInfo + M.modsOffset, true);
  if (initrd) {
    v.setUint32(M.modsOffset, initrd.start, true);
    v.setUint32(M.modsOffset + 4, initrd.end, true);
    v.setUint32(M.modsOffset + 8, L.bootInfo + moduleStringAt, true);
  }
  v.setUint32(M.mmapLength, memoryMap.length * MULTIBOOT_MMAP_ENTRY_BYTES, true);
  v.setUint32(M.mmapAddr, L.bootInfo + M.mmapOffset, true);
  memoryMap.forEach((e, i) => {
    const at = M.mmapOffset + i * MULTIBOOT_MMAP_ENTRY_BYTES;
    v.setUint32(at, MULTIBOOT_MMAP_ENTRY_BYTES - 4, true);
    v.setBigUint64(at + 4, BigInt(e.addr), true);
    v.setBigUint64(at + 12, BigInt(e.size), true);
    v.setUint32(at + 20, e.type, true);
  });
  v.setUint32(M.bootLoaderName, L.bootInfo + loaderNameAt, true);
  info.set(new TextEncoder().encode(LOADER_NAME), loaderNameAt);
  info.set(new TextEncoder().encode(INITRD_MODULE_STRING), moduleStringAt);

  return {
    format: 'multiboot',
    mode: 'protected',
    writes: [...setup.memoryWrites, { gpa: L.bootInfo, bytes: info }, { gpa: L.cmdline, bytes: cmdline }, ...kernel.writes, ...(initrd && input.initrd ? [{ gpa: initrd.start, bytes: input.initrd }] : [])],
    ranges,
    memoryMap,
    sregs: setup.sregs,
    regs: { ...setup.regs, rax: BigInt(MULTIBOOT_BOOTLOADER_MAGIC), rbx: BigInt(L.bootInfo) },
    ...(initrd ? { initrd: { start: initrd.start, size: initrdBytes } } : {}),
  };
}
