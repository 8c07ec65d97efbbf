'use strict';
/**
 * `acpi-pm`: random access sequences on the ACPI PM1a blocks (devices/acpi-pm.ts), two instances
 * on one shared state. Invariants from its contract:
 *   - a read fits its width, high word 0; lanes past the six ports read 0xff
 *   - PM1 control always reads SCI_EN set and SLP_EN clear; status never gains a bit (only
 *     write-1-to-clear), and every register stays 16 bits
 *   - a power-off is requested, with status 0, exactly when a write leaves SLP_EN set with
 *     SLP_TYP = the \_S5 value (5), and never otherwise; nothing ever requests a reset
 * The plugin's option checks are fuzzed with mutated options (a typed ConfigError or a device).
 */
const { acpiPmPlugin, ACPI_PM1, ACPI_S5_SLP_TYP } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { randomOps, makeInstances, checkReadValue } = require('../lib/device-harness');

const S5_REQUEST = (ACPI_S5_SLP_TYP << ACPI_PM1.SLP_TYP_SHIFT) | ACPI_PM1.SLP_EN;

function generate(rng) {
  const options = rng.chance(0.8) ? {} : { port: rng.pick([0x600, 0xb000, 0x601, 0xfffc, -4, 'x', 1.5]) };
  const ops = randomOps(rng, { size: 6, hostOps: ['reset'] }).map((op) => {
    // Aim some writes at the control block with the S5 request ACPICA makes.
    if (op.op === 'write' && rng.chance(0.15)) return { ...op, offset: 4, width: rng.pick([2, 4]), value: S5_REQUEST | (rng.chance(0.5) ? ACPI_PM1.SCI_EN : 0) };
    return op;
  });
  return { options: rng.chance(0.05) ? v.mutateObject(rng, options) : options, ops };
}

/** What the written bytes leave in PM1 control's SLP_EN and SLP_TYP, for a write covering offsets 4–5. */
function requestsS5(op, controlBefore) {
  let control = controlBefore;
  const lanes = Math.min(op.width, 4);
  let touched = false;
  for (let lane = 0; lane < lanes; lane++) {
    const at = op.offset + lane;
    if (at !== 4 && at !== 5) continue;
    const shift = 8 * (at - 4);
    control = (control & ~(0xff << shift)) | (((op.value >>> (8 * lane)) & 0xff) << shift);
    touched = true;
  }
  return touched && (control & S5_REQUEST) === S5_REQUEST && ((control & ACPI_PM1.SLP_TYP_MASK) >> ACPI_PM1.SLP_TYP_SHIFT) === ACPI_S5_SLP_TYP;
}

function execute({ options, ops }) {
  const { shared, log, devices } = makeInstances(acpiPmPlugin, options, 'acpi-pm');
  const state = acpiPmPlugin.sharedLayout(options).bind(shared);
  const out = { high: 0 };
  ops.forEach((op, i) => {
    const where = `op ${i} (${op.op} offset ${op.offset} width ${op.width})`;
    const dev = devices[op.instance];
    const statusBefore = state.status;
    const controlBefore = state.control;
    const requests = log.powerOff.length;
    if (op.op === 'read') {
      const value = dev.read(op.offset, op.width, out);
      checkReadValue(value, op.width, out, where);
      for (let lane = 0; lane < Math.min(op.width, 4); lane++) {
        const at = op.offset + lane;
        const byte = (value >>> (8 * lane)) & 0xff;
        if (at < 0 || at >= 6) invariant(byte === 0xff, () => `${where}: lane ${lane} past the ports read 0x${byte.toString(16)}`);
        if (at === 4) invariant((byte & ACPI_PM1.SCI_EN) !== 0, () => `${where}: PM1 control read without SCI_EN`);
        if (at === 5) invariant((byte & (ACPI_PM1.SLP_EN >> 8)) === 0, () => `${where}: PM1 control read with SLP_EN`);
      }
    } else if (op.op === 'write') {
      dev.write(op.offset, op.width, op.value, op.high);
      const expected = requestsS5(op, controlBefore) ? 1 : 0;
      invariant(log.powerOff.length === requests + expected, () => `${where}: ${log.powerOff.length - requests} power-off request(s), expected ${expected}`);
      if (expected) invariant(log.powerOff.at(-1) === 0, () => `${where}: powered off with status ${log.powerOff.at(-1)}`);
    } else {
      dev.reset();
      invariant(state.status === 0 && state.enable === 0 && state.control === 0, () => `${where}: registers after reset ${state.status}/${state.enable}/${state.control}`);
    }
    invariant((state.status & ~statusBefore) === 0, () => `${where}: status gained bits 0x${(state.status & ~statusBefore).toString(16)}`);
    for (const reg of ['status', 'enable', 'control']) invariant(state[reg] >= 0 && state[reg] <= 0xffff, () => `${where}: ${reg} = ${state[reg]}`);
    invariant((state.control & ACPI_PM1.SLP_EN) === 0, () => `${where}: SLP_EN stayed set`);
    invariant(log.resets === 0, () => `${where}: a reset was requested`);
  });
}

module.exports = { description: 'ACPI PM1 blocks: random access sequences (status, enable, the S5 power-off request)', generate, execute };
