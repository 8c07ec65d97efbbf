'use strict';
/**
 * `pl011`: random access sequences on the PL011 (two instances on one shared state) with host
 * input mixed in. Invariants from its contract (pl011/register-model.ts, device.ts):
 *   - a read fits its width, high word 0
 *   - the receive ring never holds more than its capacity; input accepts exactly what fits
 *   - FR (word read at 0x18): TXFE always, never TXFF; RXFE iff the ring is empty, RXFF iff full
 *   - MIS reads RIS & IMSC (both word reads in one op, no access between them)
 *   - the IRQ line is driven only on changes, and after every access its level is
 *     (RIS & IMSC) ≠ 0 (interruptAsserted)
 */
const { pl011Plugin, pl011PushInput, encodeIrqLine, PL011_REG, PL011_FR } = require('@kvmts/arch-arm64');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { randomOps, makeInstances, checkReadValue, checkIrqLog } = require('../lib/device-harness');

/** Registers worth hitting more often than a uniform offset in the 4 KiB frame would. */
const HOT = Object.values(PL011_REG);

function generate(rng) {
  const options = {
    ...(rng.chance(0.3) ? { spi: rng.chance(0.2) ? null : rng.int(0, 987) } : {}),
    ...(rng.chance(0.6) ? { rxQueueBytes: rng.pick([16, 32, 256, 65536]) } : {}),
  };
  const ops = randomOps(rng, { size: 0x1000, hostOps: ['push', 'pushShared', 'reset', 'status'] });
  // Most accesses at the registers (and sometimes a sub-word offset into one).
  for (const op of ops) if ((op.op === 'read' || op.op === 'write') && rng.chance(0.8)) op.offset = rng.pick(HOT) + (rng.chance(0.1) ? rng.int(1, 3) : 0);
  return { options: rng.chance(0.05) ? v.mutateObject(rng, options) : options, ops };
}

function execute({ options, ops }) {
  const { shared, log, devices } = makeInstances(pl011Plugin, options, 'pl011@0x9000000');
  const state = pl011Plugin.sharedLayout(options).bind(shared);
  const capacity = options.rxQueueBytes ?? 256;
  const count = () => (state.rxTail - state.rxHead) >>> 0;
  // The plugin's default SPI is 1; null means polled only.
  const line = options.spi === null ? undefined : encodeIrqLine({ type: 'spi', intid: 32 + (options.spi ?? 1) });
  const out = { high: 0 };
  ops.forEach((op, i) => {
    const where = `op ${i} (${op.op}${op.offset !== undefined ? ` 0x${op.offset.toString(16)}/${op.width}` : ''})`;
    const dev = devices[op.instance];
    const before = count();
    switch (op.op) {
      case 'read': {
        const value = dev.read(op.offset, op.width, out);
        checkReadValue(value, op.width, out, where);
        break;
      }
      case 'write':
        dev.write(op.offset, op.width, op.value, op.high);
        break;
      case 'push': {
        const accepted = dev.pushInput(op.bytes);
        invariant(accepted === Math.min(op.bytes.length, capacity - before), () => `${where}: accepted ${accepted} of ${op.bytes.length} with ${before}/${capacity} queued`);
        break;
      }
      case 'pushShared': {
        const accepted = pl011PushInput(shared, op.bytes);
        invariant(accepted === Math.min(op.bytes.length, capacity - before), () => `${where}: pl011PushInput accepted ${accepted} of ${op.bytes.length} with ${before}/${capacity} queued`);
        break;
      }
      case 'status': {
        const fr = dev.read(PL011_REG.FR, 4, out);
        invariant((fr & PL011_FR.TXFE) !== 0 && (fr & PL011_FR.TXFF) === 0, () => `${where}: FR 0x${fr.toString(16)}: TX is instantaneous, so always empty`);
        invariant(((fr & PL011_FR.RXFE) !== 0) === (before === 0), () => `${where}: FR.RXFE ${(fr & PL011_FR.RXFE) !== 0} with ${before} queued`);
        invariant(((fr & PL011_FR.RXFF) !== 0) === (before === capacity), () => `${where}: FR.RXFF ${(fr & PL011_FR.RXFF) !== 0} with ${before}/${capacity} queued`);
        const ris = dev.read(PL011_REG.RIS, 4, out);
        const imsc = dev.read(PL011_REG.IMSC, 4, out);
        const mis = dev.read(PL011_REG.MIS, 4, out);
        invariant(mis === (ris & imsc) >>> 0, () => `${where}: MIS 0x${mis.toString(16)} ≠ RIS 0x${ris.toString(16)} & IMSC 0x${imsc.toString(16)}`);
        break;
      }
      default:
        dev.reset();
    }
    invariant(count() <= capacity, () => `${where}: ${count()} bytes queued in a ${capacity}-byte ring`);
    if (line !== undefined && op.op !== 'pushShared') {
      const level = checkIrqLog(log.irq, line, where);
      invariant(level === dev.interruptAsserted(), () => `${where}: the line is ${level ? 'high' : 'low'} but the output is ${level ? 'deasserted' : 'asserted'}`);
    }
  });
  invariant(log.console.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff), 'a console byte outside 0..255');
}

module.exports = { description: 'PL011 UART: random register access sequences and host input on two instances sharing state', generate, execute };
