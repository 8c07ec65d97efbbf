/**
 * Where the kernel loaders put their boot structures (guest-physical), below the EBDA at
 * 0x9fc00. One table so the three loaders cannot drift apart and the overlap checks name the same
 * ranges. The GDT and page tables come from the shared mode builders (boot/), at these addresses.
 *
 *   0x00500  GDT (+ 64-bit TSS for bzImage: longModeSetup, up to 0x25a9)
 *   0x07000  boot information: zero page (bzImage), hvm_start_info (PVH), multiboot_info
 *   0x08000  boot stack, growing down from 0x8ff0
 *   0x09000  identity page tables for the 64-bit entry: PML4, PDPT, 4 PDs (4 GiB) → 0xf000
 *   0x20000  command line, NUL-terminated (at most 64 KiB)
 */
export const X86_KERNEL_LAYOUT = {
  gdt: 0x500,
  bootInfo: 0x7000,
  bootInfoBytes: 0x1000,
  stackTop: 0x8ff0,
  stackBase: 0x8000,
  pageTables: 0x9000,
  /** The 64-bit entry's identity map: all of the 32-bit space, so any load address below 4 GiB is covered. */
  identityMapBytes: 2 ** 32,
  cmdline: 0x20000,
  cmdlineAreaBytes: 0x10000,
  /** Start of the EBDA/VGA/BIOS area, reserved in e820 up to `highMemory`. */
  lowMemoryEnd: 0x9fc00,
  highMemory: 0x100000,
  /** Default load address of a non-relocatable bzImage (boot.rst: code32_start). */
  defaultKernelLoad: 0x100000,
  pageBytes: 0x1000,
} as const;

/** e820 / hvm_memmap / multiboot mmap types. */
export const E820_TYPE = { RAM: 1, RESERVED: 2 } as const;
