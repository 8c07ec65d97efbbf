/**
 * What a guest's access to each CMOS register does. The clock is the host clock plus an offset:
 * reading a time register computes it now, in the format status B selects; setting SET freezes
 * the time into the registers for the guest to rewrite, and clearing it starts the clock from
 * what the registers say. Status A's UIP is high in the 244 µs before each second; status C's
 * UF and PF say whether an update or a periodic tick passed since C was last read (the RTC
 * raises no IRQ 8: nothing here runs between accesses). The caller holds the lock.
 */
import { decodeRtcTime, encodeRtcTime, rtcFormat } from './clock-format';
import { CMOS_INDEX_MASK, CMOS_NMI_DISABLE, CMOS_REG, CMOS_TIME_REGISTERS, RTC_A, RTC_B, RTC_C, RTC_D_VRT, RTC_UIP_LEAD_MS } from './registers';
import { readOffsetMs, writeOffsetMs, type CmosState } from './state';

/** Host time in ms since the epoch (fractions allowed); injected so tests fix it. */
export type RtcClock = () => number;

const TIME_REGISTER_SET: ReadonlySet<number> = new Set(CMOS_TIME_REGISTERS);

/** The periodic interrupt's period in 32.768 kHz cycles for rate bits 3:0 (0: off). Rates 1 and 2 are 3.90625 and 7.8125 ms. */
function periodCycles(rate: number): number {
  if (rate === 0) return 0;
  if (rate <= 2) return 64 << rate;
  return 1 << (rate - 1);
}

export class CmosRegisters {
  constructor(
    private readonly s: CmosState,
    private readonly clock: RtcClock,
  ) {}

  /** Guest time now, ms since the epoch. */
  guestMs(): number {
    return this.clock() + readOffsetMs(this.s);
  }

  writeIndex(value: number): void {
    this.s.index = value & CMOS_INDEX_MASK;
    this.s.nmiDisabled = value & CMOS_NMI_DISABLE ? 1 : 0;
  }

  readData(): number {
    const s = this.s;
    const reg = s.index;
    if (TIME_REGISTER_SET.has(reg) && !this.frozen()) return encodeRtcTime(Math.floor(this.guestMs() / 1000), rtcFormat(s.ram[CMOS_REG.STATUS_B])).get(reg)!;
    switch (reg) {
      case CMOS_REG.STATUS_A:
        return (s.ram[reg] & ~RTC_A.UIP) | (this.updateInProgress() ? RTC_A.UIP : 0);
      case CMOS_REG.STATUS_C:
        return this.readStatusC();
      case CMOS_REG.STATUS_D:
        return RTC_D_VRT;
      default:
        return s.ram[reg];
    }
  }

  writeData(value: number): void {
    const s = this.s;
    const reg = s.index;
    if (TIME_REGISTER_SET.has(reg)) {
      if (this.frozen()) {
        s.ram[reg] = value;
        return;
      }
      // A running clock takes the new field at once: the other fields as they are now, this one replaced.
      const now = this.guestMs();
      const fields = encodeRtcTime(Math.floor(now / 1000), rtcFormat(s.ram[CMOS_REG.STATUS_B]));
      fields.set(reg, value);
      this.startFrom(decodeRtcTime((r) => fields.get(r)!, rtcFormat(s.ram[CMOS_REG.STATUS_B])), now % 1000);
      return;
    }
    switch (reg) {
      case CMOS_REG.STATUS_A:
        s.ram[reg] = value & ~RTC_A.UIP;
        return;
      case CMOS_REG.STATUS_B:
        this.writeStatusB(value);
        return;
      case CMOS_REG.STATUS_C:
      case CMOS_REG.STATUS_D:
        return; // read-only
      default:
        s.ram[reg] = value;
    }
  }

  private writeStatusB(value: number): void {
    const s = this.s;
    const wasFrozen = this.frozen();
    const setting = (value & RTC_B.SET) !== 0;
    if (setting && !wasFrozen) {
      // Freeze: the registers hold the time as of now, in the format before this write.
      for (const [reg, byte] of encodeRtcTime(Math.floor(this.guestMs() / 1000), rtcFormat(s.ram[CMOS_REG.STATUS_B]))) s.ram[reg] = byte;
    }
    // SET clears UIE (MC146818 datasheet): no update-ended interrupts while the clock is held.
    s.ram[CMOS_REG.STATUS_B] = setting ? value & ~RTC_B.UIE : value;
    if (!setting && wasFrozen) this.startFrom(decodeRtcTime((r) => s.ram[r], rtcFormat(value)), 0);
  }

  /** Run the clock from `epochSeconds` + `subSecondMs` as of now. */
  private startFrom(epochSeconds: number, subSecondMs: number): void {
    writeOffsetMs(this.s, epochSeconds * 1000 + subSecondMs - this.clock());
  }

  private frozen(): boolean {
    return (this.s.ram[CMOS_REG.STATUS_B] & RTC_B.SET) !== 0;
  }

  /** UIP: the divider runs, the clock is not held, and the next update is less than 244 µs away. */
  private updateInProgress(): boolean {
    if ((this.s.ram[CMOS_REG.STATUS_A] & RTC_A.DIVIDER_MASK) !== RTC_A.DIVIDER_RUNNING || this.frozen()) return false;
    const intoSecond = ((this.guestMs() % 1000) + 1000) % 1000;
    return intoSecond >= 1000 - RTC_UIP_LEAD_MS;
  }

  private readStatusC(): number {
    const s = this.s;
    const b = s.ram[CMOS_REG.STATUS_B];
    const second = Math.floor(this.guestMs() / 1000) >>> 0;
    const cycles = periodCycles(s.ram[CMOS_REG.STATUS_A] & RTC_A.RATE_MASK);
    const tick = cycles === 0 ? 0 : Math.floor((this.clock() * 32.768) / cycles) >>> 0;
    let flags = 0;
    if (!this.frozen() && second !== s.lastUpdateSecond) flags |= RTC_C.UF;
    if (cycles !== 0 && tick !== s.lastPeriodicTick) flags |= RTC_C.PF;
    s.lastUpdateSecond = second;
    s.lastPeriodicTick = tick;
    if ((flags & RTC_C.UF && b & RTC_B.UIE) || (flags & RTC_C.PF && b & RTC_B.PIE)) flags |= RTC_C.IRQF;
    return flags;
  }

  /** Marks the present as seen for status C (power-on). */
  markSeen(): void {
    const s = this.s;
    s.lastUpdateSecond = Math.floor(this.guestMs() / 1000) >>> 0;
    const cycles = periodCycles(s.ram[CMOS_REG.STATUS_A] & RTC_A.RATE_MASK);
    s.lastPeriodicTick = cycles === 0 ? 0 : Math.floor((this.clock() * 32.768) / cycles) >>> 0;
  }
}
