'use strict';
/**
 * `i8042`: random byte sequences at the keyboard controller's two ports (two instances on one
 * shared state, as two vCPU threads have; each access goes through the port view the bus uses,
 * `forRange`). Invariants from the device's contract (devices/i8042/):
 *   - a read fits its width, the high word is 0, and lanes above the first read all-ones
 *   - status: IBF never set; OBF iff a byte is queued; AUXDATA and TIMEOUT only with OBF;
 *     the queue never holds more than its 16 bytes
 *   - a reset is requested only by a write to the command port (0xFE and the other pulses of
 *     bit 0) or to the output port through 0xD1, never by a read or a data-port keyboard byte
 *   - each interrupt line is driven only on changes, and after every access its level is the
 *     controller's output (interruptsAsserted)
 */
const { i8042Plugin, I8042_STATUS } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { randomOps, makeInstances, checkReadValue, checkIrqLog } = require('../lib/device-harness');

function generate(rng) {
  const options = {
    ...(rng.chance(0.7) ? { irq: rng.int(0, 23) } : {}),
    ...(rng.chance(0.5) ? { auxIrq: rng.int(0, 23) } : {}),
  };
  return { options: rng.chance(0.05) ? v.mutateObject(rng, options) : options, ops: randomOps(rng, { size: 2, hostOps: ['reset'] }) };
}

function execute({ options, ops }) {
  const { shared, log, devices } = makeInstances(i8042Plugin, options, 'i8042');
  const state = i8042Plugin.sharedLayout(options).bind(shared);
  const out = { high: 0 };
  let pendingOutputPortWrite = false;
  ops.forEach((op, i) => {
    const dev = devices[op.instance];
    // Even offsets reach the data port (range 0), odd ones the command port (range 1).
    const port = ((op.offset % 2) + 2) % 2;
    const view = dev.forRange('pio', port);
    const where = `op ${i} (${op.op} ${port === 0 ? '0x60' : '0x64'} width ${op.width})`;
    const resetsBefore = log.resets;
    if (op.op === 'read') {
      const value = view.read(0, op.width, out);
      checkReadValue(value, op.width, out, where);
      if (op.width > 1) invariant(value >>> 8 === (op.width >= 4 ? 0xffffff : (1 << (8 * (op.width - 1))) - 1), () => `${where}: upper lanes 0x${(value >>> 8).toString(16)}, expected all-ones`);
      if (port === 1) {
        const st = value & 0xff;
        invariant((st & I8042_STATUS.IBF) === 0, () => `${where}: IBF set`);
        invariant(((st & I8042_STATUS.OBF) !== 0) === state.queueCount > 0, () => `${where}: OBF ${st & 1} with ${state.queueCount} queued`);
        if ((st & I8042_STATUS.OBF) === 0) invariant((st & (I8042_STATUS.AUXDATA | I8042_STATUS.TIMEOUT)) === 0, () => `${where}: AUXDATA/TIMEOUT without OBF (0x${st.toString(16)})`);
      }
      invariant(log.resets === resetsBefore, () => `${where}: a read requested a reset`);
    } else if (op.op === 'write') {
      const byte = op.value & 0xff;
      const expectsPortData = pendingOutputPortWrite;
      view.write(0, op.width, op.value, op.high);
      if (log.resets !== resetsBefore) {
        invariant(log.resets === resetsBefore + 1, () => `${where}: ${log.resets - resetsBefore} resets for one access`);
        const byPulse = port === 1 && byte >= 0xf0 && (byte & 1) === 0;
        const byOutputPort = port === 0 && expectsPortData && (byte & 1) === 0;
        invariant(byPulse || byOutputPort, () => `${where}: reset requested by byte 0x${byte.toString(16)}`);
      }
      pendingOutputPortWrite = port === 1 ? byte === 0xd1 : false;
    } else {
      dev.reset();
      pendingOutputPortWrite = false;
    }
    invariant(state.queueCount <= 16, () => `${where}: ${state.queueCount} bytes queued`);
    const asserted = dev.interruptsAsserted();
    const lines = [
      ['irq', options.irq, asserted.keyboard],
      ['auxIrq', options.auxIrq, asserted.aux],
    ];
    for (const [name, line, level] of lines) {
      if (line === undefined) continue;
      const driven = checkIrqLog(log.irq.filter(([l]) => l === line), line, where);
      invariant(driven === level, () => `${where}: ${name} line ${line} is ${driven ? 'high' : 'low'} but the output is ${level ? 'asserted' : 'deasserted'}`);
    }
  });
}

module.exports = { description: 'i8042 keyboard controller: random byte sequences at 0x60/0x64 on two instances sharing state', generate, execute };
