'use strict';
/**
 * `cmos-rtc`: random accesses at the CMOS/RTC's index and data ports (two instances on one
 * shared state), with a deterministic clock that moves forward by random steps between
 * accesses, and random power-on memory sizes. Invariants from the device's contract
 * (devices/cmos-rtc/):
 *   - a read fits its width, the high word is 0; the index port reads all-ones
 *   - the selected index stays below 128; status D reads VRT (0x80)
 *   - the guest clock is always a finite time, whatever bytes the guest wrote into the time
 *     registers or status B
 *   - while the clock runs in BCD mode, the seconds and minutes registers hold valid BCD below 60
 *   - UIP (status A bit 7) is never set while SET holds the clock or the divider is stopped
 * The plugin's option checks are fuzzed with mutated options (a typed ConfigError or a device).
 */
const { CmosRtc, cmosRtcPlugin, CMOS_REG } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { randomOps, checkReadValue } = require('../lib/device-harness');

const INTERESTING = [CMOS_REG.SECONDS, CMOS_REG.MINUTES, CMOS_REG.HOURS, CMOS_REG.DAY_OF_MONTH, CMOS_REG.MONTH, CMOS_REG.YEAR, CMOS_REG.CENTURY, CMOS_REG.STATUS_A, CMOS_REG.STATUS_B, CMOS_REG.STATUS_C, CMOS_REG.STATUS_D];
const validBcd = (b) => (b & 0x0f) <= 9 && b >> 4 <= 5;

function generate(rng) {
  const options = {
    ...(rng.chance(0.6) ? { memory: rng.pick([0, 1, 512 * 1024, 32 * 2 ** 20, 0xc0000000, 6 * 2 ** 30, '512M', 'x']) } : {}),
    ...(rng.chance(0.5) ? { cpus: rng.int(0, 300) } : {}),
    ...(rng.chance(0.3) ? { startTime: rng.pick([0, -1e12, 4102444800000, 1e16, '2000-01-01', 'soon']) } : {}),
  };
  const ops = randomOps(rng, { size: 2, hostOps: ['reset'] }).map((op) => {
    // Aim index writes at the registers with behaviour behind them more often than at plain RAM.
    if (op.op === 'write' && ((op.offset % 2) + 2) % 2 === 0 && rng.chance(0.6)) op.value = rng.pick(INTERESTING) | (rng.chance(0.3) ? 0x80 : 0);
    return { ...op, advanceMs: rng.pick([0, 0, 0.1, 0.25, 1, 999.9, 1000, 60000, 86400000]) };
  });
  return { options: rng.chance(0.05) ? v.mutateObject(rng, options) : options, ops };
}

function execute({ options, ops }) {
  cmosRtcPlugin.validate(options);
  const shared = new SharedArrayBuffer(cmosRtcPlugin.sharedLayout(options).byteLength);
  const clock = { now: Date.UTC(2026, 0, 1) };
  const ctx = { name: 'cmos-rtc', vcpuId: 0, shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: () => undefined };
  // The plugin's instance checks the options end to end; the fuzzed ones run on the fixed clock.
  cmosRtcPlugin.create(ctx, options);
  const powerOn = { memory: { belowFourGiB: 32 * 2 ** 20, aboveFourGiB: 2 ** 30, cpus: 2 }, startTime: undefined };
  const devices = [new CmosRtc(ctx, powerOn, () => clock.now), new CmosRtc({ ...ctx, vcpuId: 1 }, powerOn, () => clock.now)];
  const state = cmosRtcPlugin.sharedLayout(options).bind(shared);
  const out = { high: 0 };
  const readReg = (dev, index) => {
    dev.write(0, 1, index, 0);
    return dev.read(1, 1, out);
  };
  ops.forEach((op, i) => {
    clock.now += op.advanceMs;
    const dev = devices[op.instance];
    const port = ((op.offset % 2) + 2) % 2;
    const where = `op ${i} (${op.op} ${port === 0 ? '0x70' : '0x71'} width ${op.width}, index 0x${state.index.toString(16)})`;
    if (op.op === 'read') {
      const value = dev.read(port, op.width, out);
      checkReadValue(value, op.width, out, where);
      if (port === 0) invariant((value & 0xff) === 0xff, () => `${where}: the index port read 0x${value.toString(16)}`);
    } else if (op.op === 'write') {
      dev.write(port, op.width, op.value, op.high);
    } else {
      dev.reset();
    }
    invariant(state.index < 128, () => `${where}: index ${state.index}`);
    invariant(Number.isFinite(dev.guestTime()), () => `${where}: the guest clock is ${dev.guestTime()}`);
    // Probe the chip as a driver would, then put the index back.
    const index = state.index;
    const b = state.ram[CMOS_REG.STATUS_B];
    const a = readReg(dev, CMOS_REG.STATUS_A);
    invariant(readReg(dev, CMOS_REG.STATUS_D) === 0x80, () => `${where}: status D without VRT`);
    if (a & 0x80) invariant((b & 0x80) === 0 && (a & 0x70) === 0x20, () => `${where}: UIP with status A 0x${a.toString(16)}, B 0x${b.toString(16)}`);
    if ((b & 0x84) === 0) {
      for (const reg of [CMOS_REG.SECONDS, CMOS_REG.MINUTES]) {
        const byte = readReg(dev, reg);
        invariant(validBcd(byte), () => `${where}: register ${reg} = 0x${byte.toString(16)} in BCD mode`);
      }
    }
    dev.write(0, 1, index, 0);
  });
}

module.exports = { description: 'CMOS/RTC: random index/data port sequences on two instances sharing state, with a moving clock', generate, execute };
