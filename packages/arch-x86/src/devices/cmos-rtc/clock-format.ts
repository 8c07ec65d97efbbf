/**
 * The RTC's time registers ↔ a UTC time, in the format status B selects (BCD or binary,
 * 24-hour or 12-hour with bit 7 = PM). Pure functions: the golden tests pin each case.
 */
import { CMOS_REG, RTC_B, RTC_HOURS_PM } from './registers';

export interface RtcFormat {
  readonly binary: boolean;
  readonly hour24: boolean;
}

export function rtcFormat(statusB: number): RtcFormat {
  return { binary: (statusB & RTC_B.DM) !== 0, hour24: (statusB & RTC_B.H24) !== 0 };
}

/** One register byte: binary wraps modulo 256, BCD keeps two digits (a year before 0 rolled back from a guest's month 0 wraps to 99). */
function encode(value: number, f: RtcFormat): number {
  if (f.binary) return value & 0xff;
  const twoDigits = ((value % 100) + 100) % 100;
  return (Math.floor(twoDigits / 10) << 4) | twoDigits % 10;
}

/** Decodes a register byte; BCD nibbles above 9 are taken at face value, as a real part would count them. */
function decode(byte: number, f: RtcFormat): number {
  return f.binary ? byte : (byte >> 4) * 10 + (byte & 0x0f);
}

/** The clock registers (CMOS_TIME_REGISTERS, keyed by register number) for `epochSeconds` (UTC). */
export function encodeRtcTime(epochSeconds: number, f: RtcFormat): Map<number, number> {
  const d = new Date(epochSeconds * 1000);
  const hour = d.getUTCHours();
  const year = d.getUTCFullYear();
  let hours: number;
  if (f.hour24) hours = encode(hour, f);
  else hours = encode(hour % 12 === 0 ? 12 : hour % 12, f) | (hour >= 12 ? RTC_HOURS_PM : 0);
  return new Map([
    [CMOS_REG.SECONDS, encode(d.getUTCSeconds(), f)],
    [CMOS_REG.MINUTES, encode(d.getUTCMinutes(), f)],
    [CMOS_REG.HOURS, hours],
    [CMOS_REG.DAY_OF_WEEK, encode(d.getUTCDay() + 1, f)],
    [CMOS_REG.DAY_OF_MONTH, encode(d.getUTCDate(), f)],
    [CMOS_REG.MONTH, encode(d.getUTCMonth() + 1, f)],
    [CMOS_REG.YEAR, encode(year % 100, f)],
    [CMOS_REG.CENTURY, encode(Math.floor(year / 100), f)],
  ]);
}

/**
 * The UTC time (seconds since the epoch) the clock registers say; the day of week is derived
 * from the date, as the chip's own counter is only written, never trusted. Out-of-range fields
 * roll over as Date's setters roll them (month 13 is January of the next year), so no byte a guest
 * writes can make the clock invalid.
 */
export function decodeRtcTime(reg: (index: number) => number, f: RtcFormat): number {
  const hoursByte = reg(CMOS_REG.HOURS);
  let hour: number;
  if (f.hour24) hour = decode(hoursByte, f);
  else hour = (decode(hoursByte & ~RTC_HOURS_PM, f) % 12) + (hoursByte & RTC_HOURS_PM ? 12 : 0);
  const year = decode(reg(CMOS_REG.CENTURY), f) * 100 + decode(reg(CMOS_REG.YEAR), f);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(year, decode(reg(CMOS_REG.MONTH), f) - 1, decode(reg(CMOS_REG.DAY_OF_MONTH), f));
  d.setUTCHours(hour, decode(reg(CMOS_REG.MINUTES), f), decode(reg(CMOS_REG.SECONDS), f));
  return Math.floor(d.getTime() / 1000);
}
