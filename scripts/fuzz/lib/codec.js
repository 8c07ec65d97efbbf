'use strict';
/**
 * Fuzz inputs as JSON, losslessly: corpus files must replay the exact value that failed, and the
 * inputs hold what JSON cannot — undefined, NaN, ±Infinity, −0, BigInt, Uint8Array, symbols, and
 * objects with own keys like `__proto__`. Arrays and plain strings, booleans, null and finite
 * numbers are themselves (a long string of one repeated unit is { "$t": "repeat" }); everything else is tagged `{ "$t": kind, "v": … }` (objects as their
 * list of own [key, value] entries, so no key is special).
 */
const { defineOwn } = require('./values');

/** A long string that is one short unit repeated (the generators' huge strings), as { unit, n }. */
function repeatedUnit(s) {
  if (s.length < 1024) return undefined;
  for (let k = 1; k <= 4; k++) {
    const unit = s.slice(0, k);
    if (s.length % k === 0 && unit.repeat(s.length / k) === s) return { unit, n: s.length / k };
  }
  return undefined;
}

function encode(value) {
  if (typeof value === 'string') {
    const r = repeatedUnit(value);
    return r ? { $t: 'repeat', v: r.unit, n: r.n } : value;
  }
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { $t: 'num', v: 'NaN' };
    if (value === Infinity) return { $t: 'num', v: 'Infinity' };
    if (value === -Infinity) return { $t: 'num', v: '-Infinity' };
    if (Object.is(value, -0)) return { $t: 'num', v: '-0' };
    return value;
  }
  if (value === undefined) return { $t: 'undefined' };
  if (typeof value === 'bigint') return { $t: 'bigint', v: value.toString() };
  if (typeof value === 'symbol') return { $t: 'symbol', v: Symbol.keyFor(value) ?? value.description ?? '' };
  if (value instanceof Uint8Array) return { $t: 'u8', v: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(encode);
  if (typeof value === 'object') return { $t: 'obj', v: Object.keys(value).map((k) => [encode(k), encode(value[k])]) };
  throw new TypeError(`codec: cannot encode a ${typeof value}`);
}

function decode(json) {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) return json.map(decode);
  switch (json.$t) {
    case 'num':
      return Number(json.v);
    case 'undefined':
      return undefined;
    case 'repeat':
      return json.v.repeat(json.n);
    case 'bigint':
      return BigInt(json.v);
    case 'symbol':
      return Symbol.for(json.v);
    case 'u8':
      return new Uint8Array(Buffer.from(json.v, 'hex'));
    case 'obj': {
      const o = {};
      for (const [k, v] of json.v) defineOwn(o, decode(k), decode(v));
      return o;
    }
    default:
      throw new TypeError(`codec: unknown tag ${JSON.stringify(json.$t)}`);
  }
}

module.exports = { encode, decode };
