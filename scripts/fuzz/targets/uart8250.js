'use strict';
/**
 * `uart8250`: random register access sequences on the 16550A (two instances on one shared
 * state, as two vCPU threads have), with host input mixed in. Invariants, each from the
 * device's contract (uart8250/register-model.ts, interrupts.ts):
 *   - a read fits its width; the high word is 0
 *   - the receive ring never holds more than its capacity; input accepts exactly what fits
 *   - LSR: THRE|TEMT always set (transmission is instantaneous); DR set iff the ring holds a byte
 *   - IIR: the cause is one a 16550A reports, bits 7:6 say FIFOs on/off as FCR.ENABLE does,
 *     and the output was asserted before the read iff IIR shows a cause and MCR.OUT2 is set
 *   - the IRQ line is driven only on changes, and after every access its level is the
 *     output's level (interruptAsserted)
 *   - console bytes are bytes
 */
const { uart8250Plugin, uartPushInput, UART_REG } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { randomOps, makeInstances, checkReadValue, checkIrqLog } = require('../lib/device-harness');

const IIR_CAUSES = new Set([0x01, 0x00, 0x02, 0x04, 0x06]);

function generate(rng) {
  const options = {
    ...(rng.chance(0.7) ? { irq: rng.int(0, 23) } : {}),
    ...(rng.chance(0.6) ? { rxQueueBytes: rng.pick([16, 32, 256, 65536]) } : {}),
  };
  return { options: rng.chance(0.05) ? v.mutateObject(rng, options) : options, ops: randomOps(rng, { size: 8, hostOps: ['push', 'pushShared', 'reset'] }) };
}

function execute({ options, ops }) {
  const { shared, log, devices } = makeInstances(uart8250Plugin, options, 'uart8250@0x3f8');
  const state = uart8250Plugin.sharedLayout(options).bind(shared);
  const capacity = options.rxQueueBytes ?? 256;
  const count = () => (state.rxTail - state.rxHead) >>> 0; // free-running write − read counters
  const out = { high: 0 };
  ops.forEach((op, i) => {
    const where = `op ${i} (${op.op})`;
    const dev = devices[op.instance];
    const before = count();
    const assertedBefore = dev.interruptAsserted();
    switch (op.op) {
      case 'read': {
        const value = dev.read(op.offset, op.width, out);
        checkReadValue(value, op.width, out, where);
        // Byte reads of LSR and IIR with DLAB clear are the status reads a driver makes.
        if (op.width === 1 && (op.offset & 7) === UART_REG.LSR) {
          invariant((value & 0x60) === 0x60, () => `${where}: LSR 0x${value.toString(16)} without THRE|TEMT`);
          invariant(((value & 1) === 1) === before > 0, () => `${where}: LSR.DR ${value & 1} with ${before} bytes queued`);
        }
        if (op.width === 1 && (op.offset & 7) === UART_REG.IIR_FCR) {
          invariant(IIR_CAUSES.has(value & 0x0f), () => `${where}: IIR cause 0x${(value & 0x0f).toString(16)}`);
          invariant((value & 0xc0) === (state.fcr & 1 ? 0xc0 : 0), () => `${where}: IIR 0x${value.toString(16)} with FCR 0x${state.fcr.toString(16)}`);
          // A pending cause shows in IIR whatever MCR.OUT2 says; OUT2 only gates the output pin.
          const out2 = (state.mcr & 0x08) !== 0;
          invariant(((value & 1) === 0 && out2) === assertedBefore, () => `${where}: IIR 0x${value.toString(16)} with OUT2 ${out2 ? 'set' : 'clear'} but the output was ${assertedBefore ? 'asserted' : 'deasserted'}`);
        }
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
        // The host side without an instance (machine.deviceState): same ring.
        const accepted = uartPushInput(shared, op.bytes);
        invariant(accepted === Math.min(op.bytes.length, capacity - before), () => `${where}: uartPushInput accepted ${accepted} of ${op.bytes.length} with ${before}/${capacity} queued`);
        break;
      }
      default:
        dev.reset();
    }
    invariant(count() <= capacity, () => `${where}: ${count()} bytes queued in a ${capacity}-byte ring`);
    if (options.irq !== undefined && op.op !== 'pushShared') {
      const level = checkIrqLog(log.irq, options.irq, where);
      invariant(level === dev.interruptAsserted(), () => `${where}: the line is ${level ? 'high' : 'low'} but the output is ${level ? 'deasserted' : 'asserted'}`);
    }
  });
  invariant(log.console.every((b) => Number.isInteger(b) && b >= 0 && b <= 0xff), 'a console byte outside 0..255');
}

module.exports = { description: '16550A UART: random register access sequences and host input on two instances sharing state', generate, execute };
