/**
 * Linux bzImage through the 64-bit boot protocol (Documentation/arch/x86/boot.rst, protocol
 * ≥ 2.12 with XLF_KERNEL_64): the setup header parsed and checked, the protected-mode kernel at
 * its preferred (or aligned) address, the zero page (`struct boot_params`) with the header copied
 * in, the e820 map, the command line and the initrd, and the 64-bit entry state: long mode with an
 * identity map, CS = __BOOT_CS 0x10, DS/ES/SS = __BOOT_DS 0x18, interrupts off, RSI = zero page,
 * RIP = load address + 0x200 (startup_64).
 */
import { ConfigError } from '@kvmts/core';
import { longModeSetup, LONG_MODE_GDT_BYTES, TSS64_BYTES } from '../boot/long-mode';
import type { MemoryWrite } from '../boot/mode-setup';
import { alignUp, buildMemoryMap, checkRanges, encodeCmdline, hex, placeInitrd, rangeOf, type BootRange, type RamRange, type X86BootPlan } from './boot-plan';
import { X86_KERNEL_LAYOUT } from './kernel-layout';

/** "HdrS" at 0x202. */
export const BZIMAGE_MAGIC = 0x53726448;
/** The oldest protocol with a 64-bit entry point and xloadflags. */
export const BZIMAGE_MIN_PROTOCOL = 0x020c;
/** startup_64 is this far into the protected-mode kernel (boot.rst "64-bit boot protocol"). */
export const BZIMAGE_STARTUP_64_OFFSET = 0x200;

/** Fields of `struct setup_header` / `struct boot_params` (bootparam.h), by offset into the file and the zero page. */
export const SETUP_HEADER = {
  setupSects: 0x1f1, // u8; 0 means 4
  syssize: 0x1f4, // u32: protected-mode size in 16-byte paragraphs
  vidMode: 0x1fa, // u16
  jump: 0x200, // u16: its second byte + 0x202 = end of the header
  header: 0x202, // u32: "HdrS"
  version: 0x206, // u16
  typeOfLoader: 0x210, // u8
  loadflags: 0x211, // u8
  ramdiskImage: 0x218, // u32
  ramdiskSize: 0x21c, // u32
  cmdLinePtr: 0x228, // u32
  initrdAddrMax: 0x22c, // u32
  kernelAlignment: 0x230, // u32
  relocatableKernel: 0x234, // u8
  xloadflags: 0x236, // u16
  cmdlineSize: 0x238, // u32
  hardwareSubarch: 0x23c, // u32
  prefAddress: 0x258, // u64
  initSize: 0x260, // u32
  /** sizeof(struct setup_header) ends here (protocol 2.15). */
  end: 0x26c,
} as const;

/** `struct boot_params` fields outside the setup header (the ext_* fields stay 0: kvmts places everything below 4 GiB). */
export const ZERO_PAGE = {
  e820Entries: 0x1e8,
  e820Table: 0x2d0,
  e820EntryBytes: 20,
  e820MaxEntries: 128,
  bytes: 0x1000,
} as const;

export const LOADFLAGS = { LOADED_HIGH: 0x01 } as const;
export const XLOADFLAGS = { KERNEL_64: 0x01 } as const;
/** type_of_loader 0xff: "undefined" loader (boot.rst: a loader without an assigned id). */
const TYPE_OF_LOADER_UNDEFINED = 0xff;
const VID_MODE_NORMAL = 0xffff;

/** The setup header fields the loader uses. */
export interface BzImageHeader {
  readonly version: number;
  readonly setupSects: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  readonly prefAddress: number;
  readonly initSize: number;
  readonly cmdlineSize: number;
  readonly initrdAddrMax: number;
  /** File offset of the protected-mode kernel: (setup_sects + 1) · 512. */
  readonly kernelOffset: number;
  /** Bytes of protected-mode kernel in the file (from syssize). */
  readonly kernelBytes: number;
  /** End of the setup header in the file (0x202 + the byte at 0x201, at most SETUP_HEADER.end). */
  readonly headerEnd: number;
}

export function isBzImage(image: Uint8Array): boolean {
  return image.length >= SETUP_HEADER.header + 4 && new DataView(image.buffer, image.byteOffset, image.length).getUint32(SETUP_HEADER.header, true) === BZIMAGE_MAGIC;
}

const version = (v: number): string => `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;

/** Parses and checks the setup header: ConfigError for a truncated file, an old protocol, no 64-bit entry. */
export function parseBzImageHeader(image: Uint8Array): BzImageHeader {
  if (!isBzImage(image)) throw new ConfigError('boot.image', 'not a bzImage (no "HdrS" magic at 0x202)');
  if (image.length < SETUP_HEADER.end) throw new ConfigError('boot.image', `bzImage truncated: ${image.length} bytes, shorter than its setup header (${SETUP_HEADER.end})`);
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const v = view.getUint16(SETUP_HEADER.version, true);
  if (v < BZIMAGE_MIN_PROTOCOL) throw new ConfigError('boot.image', `boot protocol ${version(v)} is too old: kvmts enters kernels through the 64-bit protocol (≥ ${version(BZIMAGE_MIN_PROTOCOL)})`);
  const xloadflags = view.getUint16(SETUP_HEADER.xloadflags, true);
  if (!(xloadflags & XLOADFLAGS.KERNEL_64)) throw new ConfigError('boot.image', `the kernel has no 64-bit entry point (xloadflags ${hex(xloadflags)} lacks XLF_KERNEL_64): a 32-bit kernel`);
  const loadflags = image[SETUP_HEADER.loadflags];
  if (!(loadflags & LOADFLAGS.LOADED_HIGH)) throw new ConfigError('boot.image', 'a zImage (loadflags LOADED_HIGH clear): its kernel must load at 0x10000, which the 64-bit protocol does not do');
  const setupSects = image[SETUP_HEADER.setupSects] || 4;
  const kernelOffset = (setupSects + 1) * 512;
  const kernelBytes = view.getUint32(SETUP_HEADER.syssize, true) * 16;
  if (kernelBytes === 0) throw new ConfigError('boot.image', 'syssize is 0: the bzImage has no protected-mode kernel');
  if (kernelOffset + kernelBytes > image.length) {
    throw new ConfigError('boot.image', `bzImage truncated: setup_sects ${setupSects} and syssize say the kernel ends at ${hex(kernelOffset + kernelBytes)}, the file has ${image.length} bytes`);
  }
  const kernelAlignment = view.getUint32(SETUP_HEADER.kernelAlignment, true);
  const relocatable = image[SETUP_HEADER.relocatableKernel] !== 0;
  if (relocatable && (kernelAlignment < X86_KERNEL_LAYOUT.pageBytes || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw new ConfigError('boot.image', `kernel_alignment ${hex(kernelAlignment)} is not a power of two of at least 4 KiB`);
  }
  const pref = view.getBigUint64(SETUP_HEADER.prefAddress, true);
  if (pref > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError('boot.image', `pref_address 0x${pref.toString(16)} is beyond any guest address`);
  return {
    version: v,
    setupSects,
    loadflags,
    xloadflags,
    kernelAlignment,
    relocatable,
    prefAddress: Number(pref),
    // init_size covers decompression and the kernel's bss; never less than the bytes loaded.
    initSize: Math.max(view.getUint32(SETUP_HEADER.initSize, true), kernelBytes),
    cmdlineSize: view.getUint32(SETUP_HEADER.cmdlineSize, true),
    initrdAddrMax: view.getUint32(SETUP_HEADER.initrdAddrMax, true),
    kernelOffset,
    kernelBytes,
    headerEnd: Math.min(SETUP_HEADER.header + image[SETUP_HEADER.jump + 1], SETUP_HEADER.end),
  };
}

export interface KernelLoadInput {
  readonly image: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline?: string;
  /** The machine's RAM regions. */
  readonly ram: readonly RamRange[];
}

/** The boot plan of a bzImage (pure; see the module comment). */
export function planBzImage(input: KernelLoadInput): X86BootPlan {
  const h = parseBzImageHeader(input.image);
  const L = X86_KERNEL_LAYOUT;
  const memoryMap = buildMemoryMap(input.ram);
  if (memoryMap.length > ZERO_PAGE.e820MaxEntries) throw new ConfigError('memory', `${memoryMap.length} e820 entries; the zero page holds ${ZERO_PAGE.e820MaxEntries}`);
  const load = h.relocatable ? alignUp(Math.max(h.prefAddress, L.defaultKernelLoad), h.kernelAlignment) : L.defaultKernelLoad;
  const cmdline = encodeCmdline(input.cmdline ?? '', h.cmdlineSize, `the kernel's cmdline_size`);
  const entry = load + BZIMAGE_STARTUP_64_OFFSET;
  const mode = longModeSetup({ entry, stack: L.stackTop, cpl: 0, gdtAddr: L.gdt, pageTableAddr: L.pageTables, mapBytes: L.identityMapBytes });
  const [gdtWrite, tablesWrite] = mode.memoryWrites;

  const ranges: BootRange[] = [
    rangeOf('GDT and TSS', gdtWrite.gpa, LONG_MODE_GDT_BYTES + TSS64_BYTES),
    rangeOf('zero page', L.bootInfo, ZERO_PAGE.bytes),
    { what: 'boot stack', start: L.stackBase, end: L.stackTop },
    rangeOf('page tables', tablesWrite.gpa, tablesWrite.bytes.length),
    rangeOf('command line', L.cmdline, cmdline.length),
    rangeOf('kernel (init_size)', load, h.initSize),
  ];
  checkRanges(ranges, memoryMap);
  const initrdBytes = input.initrd?.length ?? 0;
  let initrd: BootRange | undefined;
  if (initrdBytes > 0) {
    // initrd_addr_max is the highest byte the initrd may occupy; kvmts keeps it below 4 GiB.
    const limit = Math.min(h.initrdAddrMax + 1, 2 ** 32);
    initrd = placeInitrd(initrdBytes, limit, memoryMap, ranges, `initrd_addr_max ${hex(h.initrdAddrMax)}`);
    ranges.push(initrd);
  }

  const zeroPage = new Uint8Array(ZERO_PAGE.bytes);
  const zp = new DataView(zeroPage.buffer);
  zeroPage.set(input.image.subarray(SETUP_HEADER.setupSects, h.headerEnd), SETUP_HEADER.setupSects);
  zp.setUint16(SETUP_HEADER.vidMode, VID_MODE_NORMAL, true);
  zeroPage[SETUP_HEADER.typeOfLoader] = TYPE_OF_LOADER_UNDEFINED;
  zp.setUint32(SETUP_HEADER.cmdLinePtr, L.cmdline, true);
  zp.setUint32(SETUP_HEADER.hardwareSubarch, 0, true);
  if (initrd) {
    zp.setUint32(SETUP_HEADER.ramdiskImage, initrd.start, true);
    zp.setUint32(SETUP_HEADER.ramdiskSize, initrdBytes, true);
  }
  zeroPage[ZERO_PAGE.e820Entries] = memoryMap.length;
  memoryMap.forEach((e, i) => {
    const at = ZERO_PAGE.e820Table + i * ZERO_PAGE.e820EntryBytes;
    zp.setBigUint64(at, BigInt(e.addr), true);
    zp.setBigUint64(at + 8, BigInt(e.size), true);
    zp.setUint32(at + 16, e.type, true);
  });

  const writes: MemoryWrite[] = [
    ...mode.memoryWrites,
    { gpa: L.bootInfo, bytes: zeroPage },
    { gpa: L.cmdline, bytes: cmdline },
    { gpa: load, bytes: input.image.subarray(h.kernelOffset, h.kernelOffset + h.kernelBytes) },
    ...(initrd && input.initrd ? [{ gpa: initrd.start, bytes: input.initrd }] : []),
  ];
  return {
    format: 'bzimage',
    mode: 'long',
    writes,
    ranges,
    memoryMap,
    sregs: mode.sregs,
    regs: { ...mode.regs, rsi: BigInt(L.bootInfo), rbp: BigInt(L.stackTop) },
    ...(initrd ? { initrd: { start: initrd.start, size: initrdBytes } } : {}),
  };
}
