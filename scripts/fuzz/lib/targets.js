'use strict';
/**
 * The fuzz targets, by name. A target module exports:
 *   description  one line for `npm run fuzz` without arguments
 *   generate(rng)   one input from the case's Prng (pure: same rng state, same input)
 *   execute(input)  feed it to the code under test; return, or throw a KvmtsError (a typed
 *                   rejection), or — a finding — anything else or an InvariantViolation
 * Inputs must be encodable by lib/codec.js (they are saved to the corpus as JSON).
 */
const TARGETS = {
  config: './../targets/config',
  'flat-image': './../targets/flat-image',
  uart8250: './../targets/uart8250',
  'exit-device': './../targets/exit-device',
  i8042: './../targets/i8042',
  'cmos-rtc': './../targets/cmos-rtc',
  'acpi-pm': './../targets/acpi-pm',
  pl011: './../targets/pl011',
  'arm64-image': './../targets/arm64-image',
  fdt: './../targets/fdt',
  'x86-kernel': './../targets/x86-kernel',
  'checkpoint-reader': './../targets/checkpoint-reader',
};

/** Target names, in the order `npm run fuzz -- all` runs them. */
const TARGET_NAMES = Object.keys(TARGETS);

function loadTarget(name) {
  const file = Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
  if (file === undefined) {
    const { ConfigError } = require('@kvmts/core');
    throw new ConfigError('target', `unknown fuzz target '${name}' (available: ${TARGET_NAMES.join(', ')})`);
  }
  return require(file);
}

module.exports = { TARGET_NAMES, loadTarget };
