/**
 * The CMOS/RTC register by register with a fixed clock injected: the time registers in each
 * format status B selects, SET and setting the clock, status A's UIP, C's flags, D's VRT, the
 * index port's NMI bit, and the memory-size bytes as QEMU writes them.
 */
import { ConfigError, restoreSharedState, saveSharedState, type DeviceContext, type HighWord } from '@kvmts/core';
import { CMOS_REG as R, CmosRtc, cmosMemoryBytes, cmosRtc, cmosRtcPlugin, decodeRtcTime, encodeRtcTime, type CmosPowerOn } from '../src/devices';

/** 2026-12-02 15:04:05.500 UTC, a Wednesday. */
const T0 = Date.UTC(2026, 11, 2, 15, 4, 5, 500);

function make(powerOn: Partial<CmosPowerOn> = {}, shared?: SharedArrayBuffer) {
  const clock = { now: T0 };
  const ctx: DeviceContext = {
    name: 'cmos-rtc',
    vcpuId: 0,
    shared: shared ?? new SharedArrayBuffer(cmosRtcPlugin.sharedLayout!({}).byteLength),
    consoleWrite: () => undefined,
    requestPowerOff: () => undefined,
    setIrqLine: () => undefined,
  };
  const rtc = new CmosRtc(ctx, { memory: { belowFourGiB: 0, aboveFourGiB: 0, cpus: 1 }, startTime: undefined, ...powerOn }, () => clock.now);
  return { rtc, clock, shared: ctx.shared };
}

const out: HighWord = { high: 0 };
function reg(rtc: CmosRtc, index: number): number {
  rtc.write(0, 1, index, 0);
  return rtc.read(1, 1, out);
}
function setReg(rtc: CmosRtc, index: number, value: number): void {
  rtc.write(0, 1, index, 0);
  rtc.write(1, 1, value, 0);
}
const TIME = [R.SECONDS, R.MINUTES, R.HOURS, R.DAY_OF_WEEK, R.DAY_OF_MONTH, R.MONTH, R.YEAR, R.CENTURY];
const timeBytes = (rtc: CmosRtc): number[] => TIME.map((r) => reg(rtc, r));

describe('CMOS/RTC clock', () => {
  it('reads the host clock in BCD, 24-hour at power-on: 15:04:05, Wednesday (4), 02-12-2026', () => {
    const { rtc } = make();
    expect(reg(rtc, R.STATUS_B)).toBe(0x02);
    expect(timeBytes(rtc)).toEqual([0x05, 0x04, 0x15, 0x04, 0x02, 0x12, 0x26, 0x20]);
  });

  it('follows status B: binary (DM), 12-hour with bit 7 = PM', () => {
    const { rtc } = make();
    setReg(rtc, R.STATUS_B, 0x06); // binary, 24-hour
    expect(timeBytes(rtc)).toEqual([5, 4, 15, 4, 2, 12, 26, 20]);
    setReg(rtc, R.STATUS_B, 0x04); // binary, 12-hour
    expect(reg(rtc, R.HOURS)).toBe(0x83);
    setReg(rtc, R.STATUS_B, 0x00); // BCD, 12-hour
    expect(reg(rtc, R.HOURS)).toBe(0x83);
  });

  it('12-hour mode: midnight is 12 AM (0x12), noon 12 PM (0x92)', () => {
    const f = { binary: false, hour24: false };
    const midnight = Date.UTC(2000, 0, 1, 0, 30, 0) / 1000;
    expect(encodeRtcTime(midnight, f).get(R.HOURS)).toBe(0x12);
    expect(encodeRtcTime(midnight + 12 * 3600, f).get(R.HOURS)).toBe(0x92);
    const bytes = encodeRtcTime(midnight + 12 * 3600, f);
    expect(decodeRtcTime((r) => bytes.get(r)!, f)).toBe(midnight + 12 * 3600);
  });

  it('runs with the host clock: a second later the seconds register says 06', () => {
    const { rtc, clock } = make();
    clock.now += 1000;
    expect(reg(rtc, R.SECONDS)).toBe(0x06);
    clock.now += 60_000;
    expect([reg(rtc, R.SECONDS), reg(rtc, R.MINUTES)]).toEqual([0x06, 0x05]);
  });

  it('SET freezes the registers; the guest rewrites them and clearing SET starts the clock from them', () => {
    const { rtc, clock } = make();
    setReg(rtc, R.STATUS_B, 0x82 | 0x10); // SET (UIE is cleared by SET)
    expect(reg(rtc, R.STATUS_B)).toBe(0x82);
    clock.now += 5000;
    expect(reg(rtc, R.SECONDS)).toBe(0x05); // frozen
    setReg(rtc, R.YEAR, 0x99);
    setReg(rtc, R.CENTURY, 0x19);
    setReg(rtc, R.MONTH, 0x12);
    setReg(rtc, R.DAY_OF_MONTH, 0x31);
    setReg(rtc, R.HOURS, 0x23);
    setReg(rtc, R.MINUTES, 0x59);
    setReg(rtc, R.SECONDS, 0x58);
    setReg(rtc, R.STATUS_B, 0x02);
    expect(rtc.guestTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 58));
    clock.now += 2000;
    // 2000-01-01 00:00:00, a Saturday (7).
    expect(timeBytes(rtc)).toEqual([0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]);
  });

  it('a time register written while the clock runs takes effect at once, keeping the other fields', () => {
    const { rtc } = make();
    setReg(rtc, R.HOURS, 0x01);
    expect(timeBytes(rtc)).toEqual([0x05, 0x04, 0x01, 0x04, 0x02, 0x12, 0x26, 0x20]);
    expect(rtc.guestTime()).toBe(Date.UTC(2026, 11, 2, 1, 4, 5, 500));
  });

  it('a clock set on a host clock with fractions of a millisecond never reads the second before', () => {
    const { rtc, clock } = make();
    clock.now = T0 + 0.7;
    setReg(rtc, R.STATUS_B, 0x82);
    setReg(rtc, R.SECONDS, 0x30);
    setReg(rtc, R.STATUS_B, 0x02);
    expect(reg(rtc, R.SECONDS)).toBe(0x30);
    expect(rtc.guestTime() - Date.UTC(2026, 11, 2, 15, 4, 30)).toBeGreaterThanOrEqual(0);
    expect(rtc.guestTime() - Date.UTC(2026, 11, 2, 15, 4, 30)).toBeLessThan(1);
  });

  it('startTime sets the clock at power-on; years 0–99 of a century are not taken for 19xx', () => {
    const { rtc } = make({ startTime: Date.UTC(2001, 1, 3, 4, 5, 6) });
    expect(timeBytes(rtc)).toEqual([0x06, 0x05, 0x04, 0x00 + 0x07, 0x03, 0x02, 0x01, 0x20]);
    const f = { binary: true, hour24: true };
    const bytes = new Map<number, number>([[R.SECONDS, 0], [R.MINUTES, 0], [R.HOURS, 0], [R.DAY_OF_MONTH, 1], [R.MONTH, 1], [R.YEAR, 5], [R.CENTURY, 0]]);
    expect(new Date(decodeRtcTime((r) => bytes.get(r) ?? 0, f) * 1000).getUTCFullYear()).toBe(5);
  });

  it('a date that rolls back before year 0 still reads as bytes (fuzz finding: BCD of year −1 was −1)', () => {
    const { rtc } = make();
    setReg(rtc, R.STATUS_B, 0x82);
    for (const [r, v] of [[R.CENTURY, 0], [R.YEAR, 0], [R.MONTH, 0], [R.DAY_OF_MONTH, 0]]) setReg(rtc, r, v);
    setReg(rtc, R.STATUS_B, 0x02);
    // Month 0, day 0 of year 0 is 30 November of year −1: year 99, century 99 (two digits, wrapped).
    expect(timeBytes(rtc).slice(4)).toEqual([0x30, 0x11, 0x99, 0x99]);
    setReg(rtc, R.STATUS_B, 0x06);
    expect(timeBytes(rtc).slice(4)).toEqual([30, 11, 0xff, 0xff]);
  });

  it('garbage in the time registers rolls over instead of breaking the clock', () => {
    const { rtc } = make();
    setReg(rtc, R.STATUS_B, 0x82);
    for (const r of TIME) setReg(rtc, r, 0xff);
    setReg(rtc, R.STATUS_B, 0x02);
    expect(Number.isFinite(rtc.guestTime())).toBe(true);
    for (const b of timeBytes(rtc)) expect(b).toBeLessThanOrEqual(0xff);
  });
});

describe('CMOS/RTC status registers', () => {
  it('A: power-on 0x26; UIP only in the 244 µs before a second, and not while SET holds the clock', () => {
    const { rtc, clock } = make();
    expect(reg(rtc, R.STATUS_A)).toBe(0x26);
    clock.now = Date.UTC(2026, 11, 2, 15, 4, 5, 999) + 0.8; // 200 µs before the update
    expect(reg(rtc, R.STATUS_A)).toBe(0xa6);
    clock.now = Date.UTC(2026, 11, 2, 15, 4, 5, 999) + 0.7; // 300 µs before
    expect(reg(rtc, R.STATUS_A)).toBe(0x26);
    clock.now = Date.UTC(2026, 11, 2, 15, 4, 5, 999) + 0.8;
    setReg(rtc, R.STATUS_B, 0x82);
    expect(reg(rtc, R.STATUS_A)).toBe(0x26);
    setReg(rtc, R.STATUS_B, 0x02);
    // UIP is read-only; a stopped divider never updates.
    setReg(rtc, R.STATUS_A, 0xa6);
    expect(reg(rtc, R.STATUS_A) & 0x7f).toBe(0x26);
    setReg(rtc, R.STATUS_A, 0x76);
    clock.now = Date.UTC(2026, 11, 3, 0, 0, 0) - 0.1;
    expect(reg(rtc, R.STATUS_A)).toBe(0x76);
  });

  it('C: UF once a second passed since the last read, PF once a period passed, IRQF when enabled; read clears', () => {
    const { rtc, clock } = make();
    expect(reg(rtc, R.STATUS_C)).toBe(0x00);
    clock.now += 1000;
    expect(reg(rtc, R.STATUS_C)).toBe(0x50); // UF, and PF (rate 6: 976.5625 µs periods)
    expect(reg(rtc, R.STATUS_C)).toBe(0x00);
    setReg(rtc, R.STATUS_B, 0x02 | 0x10); // UIE
    clock.now += 1000;
    expect(reg(rtc, R.STATUS_C)).toBe(0xd0);
    setReg(rtc, R.STATUS_A, 0x20); // rate 0: no periodic flag
    clock.now += 1000;
    expect(reg(rtc, R.STATUS_C)).toBe(0x90);
    setReg(rtc, R.STATUS_C, 0xff); // read-only
    expect(reg(rtc, R.STATUS_C)).toBe(0x00);
  });

  it('D: VRT (0x80) always; writes ignored', () => {
    const { rtc } = make();
    expect(reg(rtc, R.STATUS_D)).toBe(0x80);
    setReg(rtc, R.STATUS_D, 0);
    expect(reg(rtc, R.STATUS_D)).toBe(0x80);
  });
});

describe('CMOS/RTC checkpoints', () => {
  it('a restored chip keeps its RAM and the guest clock offset: the clock runs on from the host time', () => {
    const { rtc, shared } = make();
    setReg(rtc, R.STATUS_B, 0x82);
    setReg(rtc, R.YEAR, 0x01);
    setReg(rtc, R.STATUS_B, 0x02); // the year is now 2001
    setReg(rtc, 0x40, 0x77);
    const saved = saveSharedState(cmosRtcPlugin.sharedLayout!({}), shared);
    const into = new SharedArrayBuffer(shared.byteLength);
    restoreSharedState(cmosRtcPlugin.sharedLayout!({}), into, saved);
    // Restored an hour later on the host: the guest's clock moved on by that hour too.
    const { rtc: restored, clock } = make({}, into);
    clock.now = T0 + 3600_000;
    expect([reg(restored, R.YEAR), reg(restored, R.HOURS), reg(restored, 0x40)]).toEqual([0x01, 0x16, 0x77]);
  });
});

describe('CMOS/RTC ports, RAM and memory bytes', () => {
  it('the index port keeps 7 bits and the NMI-disable bit, and reads all-ones', () => {
    const { rtc } = make();
    rtc.write(0, 1, 0x80 | R.STATUS_D, 0);
    expect(rtc.nmiDisabled()).toBe(true);
    expect(rtc.read(1, 1, out)).toBe(0x80);
    expect(rtc.read(0, 1, out)).toBe(0xff);
    rtc.write(0, 1, R.STATUS_B, 0);
    expect(rtc.nmiDisabled()).toBe(false);
    // A 2-byte access is index then data, as two byte accesses: select 0x40, write 0xab.
    rtc.write(0, 2, 0xab40, 0);
    expect(reg(rtc, 0x40)).toBe(0xab);
    expect(rtc.read(0, 2, out)).toBe(0xabff);
    expect(out.high).toBe(0);
  });

  it('RAM bytes keep what the guest writes; two instances on one state are one chip', () => {
    const { rtc, shared } = make();
    const { rtc: other } = make({}, shared);
    setReg(rtc, 0x7f, 0x5a);
    expect(other.read(1, 1, out)).toBe(0x5a); // the index rtc selected
    other.write(0, 1, 0x0e, 0);
    expect(rtc.read(1, 1, out)).toBe(0x00);
  });

  it('writes the memory-size bytes as QEMU does: 32 MiB and 1 vCPU', () => {
    const { rtc } = make({ memory: { belowFourGiB: 32 * 2 ** 20, aboveFourGiB: 0, cpus: 1 } });
    // 640 KiB base = 0x0280; 31 MiB = 0x7C00 KiB extended; (32 − 16) MiB / 64 KiB = 0x0100.
    expect([0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f].map((r) => reg(rtc, r))).toEqual([
      0x80, 0x02, 0x00, 0x7c, 0x00, 0x7c, 0x00, 0x01, 0, 0, 0, 0,
    ]);
  });

  it('caps extended memory at 65535 KiB and counts RAM above 4 GiB in 64 KiB units (6 GiB, 4 vCPUs)', () => {
    const bytes = cmosMemoryBytes({ belowFourGiB: 0xc0000000, aboveFourGiB: 0xc0000000 - 0x40000000 + 0x40000000 * 2, cpus: 4 });
    expect(Object.fromEntries([...bytes].map(([r, b]) => [r.toString(16), b]))).toEqual({
      '15': 0x80, '16': 0x02, '17': 0xff, '18': 0xff, '30': 0xff, '31': 0xff,
      // (3 GiB − 16 MiB) / 64 KiB = 0xBF00
      '34': 0x00, '35': 0xbf,
      // 4 GiB / 64 KiB = 0x10000
      '5b': 0x00, '5c': 0x00, '5d': 0x01,
      '5f': 3,
    });
    const small = cmosMemoryBytes({ belowFourGiB: 512 * 1024, aboveFourGiB: 0, cpus: 1 });
    expect([small.get(0x15), small.get(0x16), small.get(0x17), small.get(0x34)]).toEqual([0x00, 0x02, 0, 0]);
  });

  it('the plugin splits `memory` at the MMIO hole and checks its options by name', () => {
    const ctx = { name: 'cmos', vcpuId: -1, shared: new SharedArrayBuffer(cmosRtcPlugin.sharedLayout!({}).byteLength), consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: () => undefined };
    const rtc = cmosRtcPlugin.create(ctx, { memory: '4G', cpus: 2, startTime: '2020-01-01T00:00:00Z' }) as CmosRtc;
    expect([reg(rtc, 0x5b), reg(rtc, 0x5c), reg(rtc, 0x5d), reg(rtc, 0x5f)]).toEqual([0x00, 0x40, 0x00, 1]); // 1 GiB above 4 GiB
    expect(reg(rtc, R.YEAR)).toBe(0x20);
    expect(cmosRtcPlugin.placement({})).toEqual({ pio: [{ base: 0x70, size: 2 }] });
    expect(() => cmosRtcPlugin.validate({ memory: 'lots' })).toThrow(/cmos-rtc.memory/);
    expect(() => cmosRtcPlugin.validate({ cpus: 0 })).toThrow(/cmos-rtc.cpus/);
    expect(() => cmosRtcPlugin.validate({ startTime: 'yesterday' })).toThrow(/cmos-rtc.startTime/);
    expect(() => cmosRtcPlugin.validate({ startTime: 1e16 })).toThrow(/cmos-rtc.startTime: .*years 1–9999/);
    expect(() => cmosRtcPlugin.validate({ startTime: '9999-12-31T23:59:59Z' })).not.toThrow();
    expect(() => cmosRtcPlugin.validate({ utc: true } as never)).toThrow(ConfigError);
    expect(cmosRtc({ cpus: 2 })).toEqual({ plugin: '@kvmts/arch-x86', type: 'cmos-rtc', options: { cpus: 2 } });
  });
});
