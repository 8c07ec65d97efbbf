'use strict';
/**
 * `exit-device`: random access sequences on the exit device (exit-device.ts). Invariants from
 * its contract:
 *   - a read fits its width, high word 0; offsets 0–3 read 0
 *   - a write at offsets 0–3 requests exactly one power-off, with the value masked to its width,
 *     and the shared state then says exited with that status
 *   - the result register merges byte lanes: after a write at offset 4+k, lanes k…k+width−1 hold
 *     the value's bytes and the other lanes are unchanged (as the host reads it, readExitDeviceState)
 */
const { exitDevicePlugin, readExitDeviceState } = require('@kvmts/arch-x86');
const { invariant } = require('../lib/invariant');
const { randomOps, makeInstances, checkReadValue } = require('../lib/device-harness');

const MASK = { 1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: 0xffffffff };

function generate(rng) {
  return { ops: randomOps(rng, { size: 8, hostOps: ['reset'] }) };
}

function execute({ ops }) {
  const { shared, log, devices } = makeInstances(exitDevicePlugin, {}, 'exit-device@0xf4');
  const out = { high: 0 };
  ops.forEach((op, i) => {
    const where = `op ${i} (${op.op} offset ${op.offset} width ${op.width})`;
    const dev = devices[op.instance];
    const before = readExitDeviceState(shared);
    const offRequests = log.powerOff.length;
    if (op.op === 'read') {
      const value = dev.read(op.offset, op.width, out);
      checkReadValue(value, op.width, out, where);
      if (op.offset >= 0 && op.offset < 4) invariant(value === 0, () => `${where}: the exit port read ${value}`);
    } else if (op.op === 'write') {
      dev.write(op.offset, op.width, op.value, op.high);
      const after = readExitDeviceState(shared);
      if (op.offset >= 0 && op.offset < 4) {
        const status = (op.value & MASK[op.width]) >>> 0;
        invariant(log.powerOff.length === offRequests + 1 && log.powerOff.at(-1) === status, () => `${where}: power-off requests ${JSON.stringify(log.powerOff.slice(offRequests))}, expected [${status}]`);
        invariant(after.exited && after.status === status, () => `${where}: state ${JSON.stringify(after)} after writing status ${status}`);
      } else if (op.offset >= 4 && op.offset < 8) {
        const shift = 8 * (op.offset - 4);
        const lanes = (MASK[op.width] * 2 ** shift) % 2 ** 32;
        const expected = ((before.result & ~lanes) | ((op.value * 2 ** shift) % 2 ** 32 & lanes)) >>> 0;
        invariant(after.result === expected, () => `${where}: result 0x${after.result.toString(16)}, expected 0x${expected.toString(16)}`);
        invariant(log.powerOff.length === offRequests, () => `${where}: a result write requested a power-off`);
      }
    } else {
      dev.reset();
      const after = readExitDeviceState(shared);
      invariant(!after.exited && !after.hasResult && after.result === 0 && after.status === 0, () => `${where}: state after reset ${JSON.stringify(after)}`);
    }
  });
}

module.exports = { description: 'exit device: random access sequences (power-off status, result register byte lanes)', generate, execute };
