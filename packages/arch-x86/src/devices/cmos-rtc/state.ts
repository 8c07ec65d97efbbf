/** The CMOS/RTC's shared state (one chip for every vCPU thread). */
import { defineSharedLayout, type SharedState } from '@kvmts/core';
import { CMOS_BYTES } from './registers';

const CMOS_FIELDS = {
  lock: 'lock',
  /** The register the index port selected (bits 6:0). */
  index: 'u8',
  /** Bit 7 of the last index write: the PC's NMI mask (stored; KVM's NMIs are not gated by it). */
  nmiDisabled: 'u8',
  /** 0 until some instance applied the power-on values (shared memory starts zero-filled). */
  initialized: 'u8',
  /**
   * Guest time − host time in ms, a signed 64-bit value in two words: the guest's clock runs
   * with the host's, from wherever the guest (or `startTime`) set it.
   */
  offsetHigh: 'u32',
  offsetLow: 'u32',
  /** Guest second (low 32 bits) and periodic tick at the last read of status C: UF/PF report what passed since. */
  lastUpdateSecond: 'u32',
  lastPeriodicTick: 'u32',
  /** The 128 bytes; the clock registers hold the frozen time while status B's SET bit is on. */
  ram: { bytes: CMOS_BYTES },
} as const;

export const cmosRtcLayout = defineSharedLayout({ name: 'cmos-rtc', version: 1, fields: CMOS_FIELDS });
export type CmosState = SharedState<typeof CMOS_FIELDS>;

const TWO_32 = 2 ** 32;

export function readOffsetMs(s: CmosState): number {
  return (s.offsetHigh | 0) * TWO_32 + s.offsetLow;
}

/**
 * Stores whole milliseconds, rounded up: the host clock has fractions, and rounding down could
 * put the guest a fraction of a millisecond before the second it just set (it would read the
 * second before). Rounded up, the clock is at most 1 ms ahead of what was set.
 */
export function writeOffsetMs(s: CmosState, ms: number): void {
  const whole = Math.ceil(ms);
  const high = Math.floor(whole / TWO_32);
  s.offsetHigh = high >>> 0;
  s.offsetLow = (whole - high * TWO_32) >>> 0;
}
