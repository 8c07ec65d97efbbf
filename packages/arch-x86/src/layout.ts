/**
 * x86-64 machine memory map (named constants only, Firecracker-style). Guest-physical.
 */
export const X86_LAYOUT = {
  /** Start of the 32-bit MMIO hole: RAM stops here and resumes at 4 GiB (x86-64.md §7). */
  mmioHoleStart: 0xc0000000,
  /** The PCI host's default window for memory BARs: 256 MiB at the top half of the hole, below the IOAPIC/LAPIC pages. */
  pciMmioWindowBase: 0xe0000000,
  pciMmioWindowSize: 0x10000000,
  /** RAM above the hole starts here. */
  highRamStart: 2 ** 32,
  /** KVM_SET_TSS_ADDR: three pages below 4 GiB, outside RAM and the LAPIC/IOAPIC pages. */
  tssAddress: 0xfffbd000,
} as const;
