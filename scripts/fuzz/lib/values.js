'use strict';
/**
 * Random values biased towards the edges where validators break: 0, −1, 2^31, 2^32, 2^53, NaN,
 * ±Infinity, −0, huge and odd strings, wrong types, nested junk and prototype-pollution keys.
 * Every generator takes the case's Prng, so a case is a pure function of its seed.
 */

/** Integers at the boundaries of int32/uint32/uint64/safe-integer ranges and of page/port sizes. */
const EDGE_NUMBERS = [
  0, -0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 255, 256, 4095, 4096, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 2 ** 31 - 1, -(2 ** 31),
  0xffffffff, 2 ** 32, 2 ** 32 + 1, 2 ** 48, 2 ** 52, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.MAX_VALUE, Number.MIN_VALUE,
  -Number.MAX_SAFE_INTEGER, 0.5, 1.5, -1.5, 1e-9, NaN, Infinity, -Infinity,
];

/** Keys that have broken JavaScript validators and mergers. */
const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'length'];

const ODD_STRINGS = [
  '', ' ', '\0', 'a\0b', '\n', '-1', '0x10', '1e3', 'NaN', 'Infinity', '64M', '64 M', '1G', '4096', '00', '9'.repeat(30), '64MiB', '64mb', '12k', '1T',
  '\u{1F600}', 'é', '\ud800', '../../etc/passwd', '%s%n', 'undefined', 'null', 'true', '[object Object]',
];

function number(rng) {
  switch (rng.below(6)) {
    case 0:
    case 1:
      return rng.pick(EDGE_NUMBERS);
    case 2:
      return rng.pick(EDGE_NUMBERS) + rng.int(-2, 2);
    case 3:
      return rng.u32();
    case 4:
      return rng.int(-16, 4096);
    default:
      return (rng.float() - 0.5) * 2 ** rng.int(0, 70);
  }
}

/** An integer in [lo, hi] most of the time, an edge number otherwise. */
function intNear(rng, lo, hi, pEdge = 0.15) {
  return rng.chance(pEdge) ? number(rng) : rng.int(lo, hi);
}

function string(rng, maxLength = 64) {
  switch (rng.below(5)) {
    case 0:
      return rng.pick(ODD_STRINGS);
    case 1:
      // Huge: far past any length limit (kept below a MiB so 10,000 cases stay fast).
      return rng.pick(['x', 'ab', '\0', 'é']).repeat(rng.int(1000, 300000));
    case 2:
      return Array.from({ length: rng.int(0, maxLength) }, () => String.fromCharCode(rng.int(0, 0xffff))).join('');
    default:
      return Array.from({ length: rng.int(0, maxLength) }, () => String.fromCharCode(rng.int(0x20, 0x7e))).join('');
  }
}

/** Any JSON-ish value, nested up to `depth`: the wrong type for whatever field receives it. */
function junk(rng, depth = 2) {
  switch (rng.below(depth > 0 ? 12 : 9)) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return rng.chance(0.5);
    case 3:
    case 4:
      return number(rng);
    case 5:
      return string(rng);
    case 6:
      return BigInt(rng.u32()) * (rng.chance(0.5) ? 1n : -1n) * (rng.chance(0.3) ? 2n ** 64n : 1n);
    case 7:
      return rng.bytes(rng.int(0, 16));
    case 8:
      return Symbol.for('kvmts-fuzz');
    case 9:
    case 10:
      return object(rng, depth - 1);
    default:
      return Array.from({ length: rng.int(0, 4) }, () => junk(rng, depth - 1));
  }
}

/** Define own keys exactly as given — `__proto__` included — as JSON.parse would. */
function defineOwn(target, key, value) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** An object of junk, sometimes with prototype-pollution keys as own properties. */
function object(rng, depth = 1, keys = []) {
  const o = {};
  const n = rng.int(0, 4);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.3) ? rng.pick(POLLUTION_KEYS) : rng.chance(0.5) && keys.length > 0 ? rng.pick(keys) : string(rng, 8);
    defineOwn(o, key, junk(rng, depth));
  }
  return o;
}

/**
 * Mutate a well-formed object: drop, replace with junk, or add keys (pollution keys included).
 * `shape` maps each known key to its own mutator or to undefined (junk for it).
 */
function mutateObject(rng, valid, pMutate = 0.3) {
  const out = {};
  for (const [k, v] of Object.entries(valid)) {
    if (rng.chance(pMutate / 2)) continue;
    defineOwn(out, k, rng.chance(pMutate) ? junk(rng) : v);
  }
  if (rng.chance(pMutate / 2)) defineOwn(out, rng.chance(0.5) ? rng.pick(POLLUTION_KEYS) : string(rng, 8), junk(rng));
  return out;
}

module.exports = { EDGE_NUMBERS, POLLUTION_KEYS, ODD_STRINGS, number, intNear, string, junk, object, mutateObject, defineOwn };
