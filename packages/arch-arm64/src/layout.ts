/**
 * arm64 machine memory map (named constants only). Guest-physical addresses follow QEMU's
 * `virt` board (arm64.md §8), so guests and tools written for it find things where they expect.
 */
export const ARM64_LAYOUT = {
  /** vGICv3 distributor: one 64 KiB frame. */
  gicDistributor: 0x0800_0000,
  gicDistributorBytes: 0x1_0000,
  /** vGICv3 redistributors: two 64 KiB frames per vCPU, contiguous, up to the PL011. */
  gicRedistributors: 0x080a_0000,
  gicRedistributorBytesPerCpu: 0x2_0000,
  gicRedistributorsEnd: 0x0900_0000,
  /**
   * A userspace GICv2 (QEMU virt's GICv2 frames: distributor 4 KiB, CPU interface 8 KiB), for
   * machines without the in-kernel GICv3, whose distributor would be at the same address.
   */
  gicV2Distributor: 0x0800_0000,
  gicV2CpuInterface: 0x0801_0000,
  /** The first PL011 UART (QEMU virt: SPI 1, INTID 33). */
  pl011: 0x0900_0000,
  pl011Spi: 1,
  /** RAM starts at 1 GiB (2 MiB-aligned, as the Image rules need). */
  ramBase: 0x4000_0000,
  /** A raw, header-less image goes at the start of RAM. */
  rawImageOffset: 0,
  /** An Image's load base is aligned to this (booting.rst). */
  kernelAlignment: 0x20_0000,
  /** Linux maps the DTB in 2 MiB blocks and rejects larger ones. */
  fdtMaxBytes: 0x20_0000,
  pageBytes: 0x1000,
} as const;
