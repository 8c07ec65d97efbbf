/** A half-open range [base, base + size) on a bus. Sizes are numbers: PIO ≤ 64 KiB, MMIO ranges ≤ 2^53. */
export interface AddressRange {
  readonly base: number;
  readonly size: number;
}
