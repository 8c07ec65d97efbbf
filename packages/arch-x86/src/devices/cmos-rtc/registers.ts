/**
 * The PC's CMOS/RTC (a Motorola MC146818 and its battery-backed RAM) as a guest sees it: the
 * index port with the NMI-disable bit, the data port, the clock registers and status registers
 * A–D, and the RAM bytes where firmware and Linux find memory sizes (QEMU's `pc_cmos_init`).
 */

/** Index port (write: bits 6:0 register, bit 7 NMI disable) and data port. */
export const CMOS_INDEX_PORT = 0x70;
export const CMOS_DATA_PORT = 0x71;
export const CMOS_PORT_COUNT = 2;
export const CMOS_INDEX_MASK = 0x7f;
export const CMOS_NMI_DISABLE = 0x80;
/** 128 bytes: 14 clock registers, then RAM. */
export const CMOS_BYTES = 128;

/** Register numbers. */
export const CMOS_REG = {
  SECONDS: 0x00,
  SECONDS_ALARM: 0x01,
  MINUTES: 0x02,
  MINUTES_ALARM: 0x03,
  HOURS: 0x04,
  HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06,
  DAY_OF_MONTH: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  STATUS_A: 0x0a,
  STATUS_B: 0x0b,
  STATUS_C: 0x0c,
  STATUS_D: 0x0d,
  /** Base memory in KiB (≤ 640), low and high byte. */
  BASE_MEMORY_LOW: 0x15,
  BASE_MEMORY_HIGH: 0x16,
  /** Memory above 1 MiB in KiB (≤ 65535), low and high byte; repeated at 0x30/0x31. */
  EXTENDED_MEMORY_LOW: 0x17,
  EXTENDED_MEMORY_HIGH: 0x18,
  EXTENDED_MEMORY_LOW_COPY: 0x30,
  EXTENDED_MEMORY_HIGH_COPY: 0x31,
  /** Century, in the clock's format (BCD or binary). */
  CENTURY: 0x32,
  /** Memory between 16 MiB and 4 GiB in 64 KiB units (≤ 65535), low and high byte. */
  MEMORY_ABOVE_16M_LOW: 0x34,
  MEMORY_ABOVE_16M_HIGH: 0x35,
  /** Memory above 4 GiB in 64 KiB units, three bytes, low first. */
  MEMORY_ABOVE_4G_0: 0x5b,
  MEMORY_ABOVE_4G_1: 0x5c,
  MEMORY_ABOVE_4G_2: 0x5d,
  /** Number of CPUs − 1 (SeaBIOS reads it). */
  CPU_COUNT_MINUS_ONE: 0x5f,
} as const;

/** The clock registers that hold the time and date (the century included), in the clock's format. */
export const CMOS_TIME_REGISTERS: readonly number[] = [
  CMOS_REG.SECONDS,
  CMOS_REG.MINUTES,
  CMOS_REG.HOURS,
  CMOS_REG.DAY_OF_WEEK,
  CMOS_REG.DAY_OF_MONTH,
  CMOS_REG.MONTH,
  CMOS_REG.YEAR,
  CMOS_REG.CENTURY,
];

/** Status A: bit 7 update in progress (read-only), bits 6:4 divider (010 = 32.768 kHz, running), bits 3:0 periodic rate. */
export const RTC_A = { UIP: 0x80, DIVIDER_MASK: 0x70, DIVIDER_RUNNING: 0x20, RATE_MASK: 0x0f } as const;
/** Status A at power-on: divider running, periodic rate 6 (1024 Hz), as firmware leaves it. */
export const RTC_A_POWER_ON = 0x26;
/** Status B: SET freezes the clock for writing; DM binary (else BCD); H24 24-hour (else 12-hour with bit 7 = PM). */
export const RTC_B = { SET: 0x80, PIE: 0x40, AIE: 0x20, UIE: 0x10, SQWE: 0x08, DM: 0x04, H24: 0x02, DSE: 0x01 } as const;
/** Status B at power-on: BCD, 24-hour (QEMU's value). */
export const RTC_B_POWER_ON = RTC_B.H24;
/** Status C (read clears): IRQF when an enabled flag is set; PF periodic, AF alarm, UF update ended. */
export const RTC_C = { IRQF: 0x80, PF: 0x40, AF: 0x20, UF: 0x10 } as const;
/** Status D: valid RAM and time (the battery is good). */
export const RTC_D_VRT = 0x80;
/** Hours register in 12-hour mode: bit 7 = PM. */
export const RTC_HOURS_PM = 0x80;
/**
 * UIP rises 244 µs before each update (MC146818 datasheet: tBUC); the update itself is taken as
 * instantaneous, so the time registers are never caught half-updated.
 */
export const RTC_UIP_LEAD_MS = 0.244;
