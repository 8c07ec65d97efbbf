/**
 * The CMOS bytes that tell firmware and Linux how much RAM there is, as QEMU's pc_cmos_init
 * writes them: base memory (KiB, at most 640), extended memory above 1 MiB (KiB, at most
 * 65535, twice), memory between 16 MiB and 4 GiB (64 KiB units, at most 65535), memory above
 * 4 GiB (64 KiB units, three bytes), and the CPU count − 1.
 */
import { CMOS_REG } from './registers';

const KIB = 1024;
const MIB = 1024 * KIB;

export interface CmosMemoryLayout {
  /** RAM below the 4 GiB boundary (kvmts: up to the MMIO hole). */
  readonly belowFourGiB: number;
  /** RAM above 4 GiB. */
  readonly aboveFourGiB: number;
  readonly cpus: number;
}

/** Register number → byte, for every byte the layout sets. */
export function cmosMemoryBytes(m: CmosMemoryLayout): Map<number, number> {
  const base = Math.min(Math.floor(m.belowFourGiB / KIB), 640);
  const extended = Math.min(m.belowFourGiB > MIB ? Math.floor((m.belowFourGiB - MIB) / KIB) : 0, 0xffff);
  const above16M = Math.min(m.belowFourGiB > 16 * MIB ? Math.floor((m.belowFourGiB - 16 * MIB) / (64 * KIB)) : 0, 0xffff);
  const above4G = Math.floor(m.aboveFourGiB / (64 * KIB));
  return new Map([
    [CMOS_REG.BASE_MEMORY_LOW, base & 0xff],
    [CMOS_REG.BASE_MEMORY_HIGH, base >> 8],
    [CMOS_REG.EXTENDED_MEMORY_LOW, extended & 0xff],
    [CMOS_REG.EXTENDED_MEMORY_HIGH, extended >> 8],
    [CMOS_REG.EXTENDED_MEMORY_LOW_COPY, extended & 0xff],
    [CMOS_REG.EXTENDED_MEMORY_HIGH_COPY, extended >> 8],
    [CMOS_REG.MEMORY_ABOVE_16M_LOW, above16M & 0xff],
    [CMOS_REG.MEMORY_ABOVE_16M_HIGH, above16M >> 8],
    [CMOS_REG.MEMORY_ABOVE_4G_0, above4G & 0xff],
    [CMOS_REG.MEMORY_ABOVE_4G_1, (above4G >> 8) & 0xff],
    [CMOS_REG.MEMORY_ABOVE_4G_2, (above4G >> 16) & 0xff],
    [CMOS_REG.CPU_COUNT_MINUS_ONE, (m.cpus - 1) & 0xff],
  ]);
}
