'use strict';
/**
 * Drives a device plugin's instances the way a machine does, without KVM: one shared-state
 * buffer of the plugin's layout, two instances on it (as two vCPU threads would have), the
 * machine's side of DeviceContext recorded (console bytes, IRQ levels, power-off and reset requests), and
 * random access sequences — offsets in and out of the device's range, every access width,
 * random values — checked after every access by the target's invariants.
 */
const { invariant } = require('./invariant');

const WIDTHS = [1, 2, 4, 8];

/** One access: read, write, or a host-side action the target defines (e.g. input). */
function randomOp(rng, { size, hostOps = [] }) {
  const roll = rng.float();
  // Integer offsets, as a bus computes them (address − base); sometimes outside the device's range.
  const offset = rng.chance(0.9) ? rng.int(0, size - 1) : rng.chance(0.5) ? rng.int(size, size * 4) : rng.pick([-1, -8, 2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1]);
  const width = rng.pick(WIDTHS);
  const instance = rng.below(2);
  if (hostOps.length > 0 && roll < 0.1) return { op: rng.pick(hostOps), instance, bytes: rng.bytes(rng.chance(0.8) ? rng.int(0, 8) : rng.int(0, 400)) };
  if (roll < 0.55) return { op: 'write', instance, offset, width, value: rng.chance(0.8) ? rng.u32() & rng.pick([0xff, 0xffff, 0xffffffff]) : rng.int(0, 0x1f), high: rng.chance(0.9) ? 0 : rng.u32() };
  return { op: 'read', instance, offset, width };
}

/** A sequence of 1–300 ops (mostly short: short sequences find most, long ones reach deep states). */
function randomOps(rng, shape) {
  const n = rng.chance(0.8) ? rng.int(1, 40) : rng.int(40, 300);
  return Array.from({ length: n }, () => randomOp(rng, shape));
}

/** Instances of `plugin` with `options` on one shared buffer, and what they did to the machine. */
function makeInstances(plugin, options, name) {
  plugin.validate(options);
  const shared = new SharedArrayBuffer(plugin.sharedLayout ? plugin.sharedLayout(options).byteLength : 0);
  const log = { console: [], irq: [], powerOff: [], resets: 0 };
  const ctx = (vcpuId) => ({
    name,
    vcpuId,
    shared,
    consoleWrite: (b) => log.console.push(b),
    requestPowerOff: (status) => log.powerOff.push(status),
    requestReset: () => log.resets++,
    setIrqLine: (line, level) => log.irq.push([line, level]),
  });
  return { shared, log, devices: [plugin.create(ctx(0), options), plugin.create(ctx(1), options)] };
}

/** The value a read returned fits its access: at most 32 bits (x86 PIO and these devices), high word 0. */
function checkReadValue(value, width, out, where) {
  const bits = 8 * Math.min(width, 4);
  invariant(Number.isInteger(value) && value >= 0 && value < 2 ** bits, () => `${where}: a ${width}-byte read returned ${value}`);
  invariant(out.high === 0, () => `${where}: high word ${out.high} for a device with 32-bit registers`);
}

/** IRQ levels are driven as changes only, on the configured line: no two equal levels in a row, starting with a rise. */
function checkIrqLog(irq, line, where) {
  let level = false;
  for (const [l, lv] of irq) {
    invariant(l === line, () => `${where}: drove line ${l}, configured ${line}`);
    invariant(lv !== level, () => `${where}: drove the line to ${lv} while it already was`);
    level = lv;
  }
  return level;
}

module.exports = { WIDTHS, randomOps, makeInstances, checkReadValue, checkIrqLog };
