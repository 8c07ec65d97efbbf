/**
 * The low-memory layout the small-guest builders default to (guest-physical addresses). Chosen to
 * stay clear of the real-mode IVT/BDA (0–0x4ff) and to keep code, tables and stack below 1 MiB.
 *
 *   0x00500  GDT (0x40 bytes), then the 64-bit TSS with its I/O bitmap (0x2069 bytes) → 0x25a9
 *   0x03000  stack area, growing down from 0x8000 (20 KiB)
 *   0x08000  guest code (packages/arch-x86/guests are linked here), up to 32 KiB
 *   0x10000  page tables: PML4, PDPT, one PD per GiB mapped (4 GiB → 0x10000–0x15fff)
 *   0x100000 free RAM for buffers the host fills
 */
export const GUEST_LAYOUT = {
  gdt: 0x500,
  stackTop: 0x8000,
  code: 0x8000,
  pageTables: 0x10000,
  data: 0x100000,
} as const;
