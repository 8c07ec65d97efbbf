'use strict';
/**
 * The fuzzers' deterministic PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * 32-bit variant; passes PractRand to 2^42 bytes per its author), seeded by splitmix32. Math.random
 * cannot be seeded, and a finding is only useful when the same seed gives the same case anywhere.
 * Golden values: scripts/fuzz/test → packages/cli/test/fuzz.test.ts.
 */

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state (used to expand seeds). */
function splitmix32(state) {
  let z = (state + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

class Prng {
  /** @param {number} seed any 32-bit integer */
  constructor(seed) {
    if (!Number.isInteger(seed)) throw new TypeError(`Prng seed must be an integer, got ${seed}`);
    let s = seed >>> 0;
    const next = () => (s = splitmix32(s));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    // Discard the first outputs, as the sfc reference does, so close seeds diverge.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform unsigned 32-bit integer. */
  u32() {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1). */
  float() {
    return this.u32() / 2 ** 32;
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32 (rejection sampling: no modulo bias). */
  below(n) {
    if (!(n >= 1 && n <= 2 ** 32)) throw new RangeError(`Prng.below(${n})`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x;
    do x = this.u32();
    while (x >= limit);
    return x % n;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float53() {
    return ((this.u32() >>> 5) * 2 ** 26 + (this.u32() >>> 6)) / 2 ** 53;
  }

  /** Uniform integer in [lo, hi] (safe integers; spans beyond 2^32 use 53 random bits). */
  int(lo, hi) {
    const span = hi - lo + 1;
    return span <= 2 ** 32 ? lo + this.below(span) : lo + Math.floor(this.float53() * span);
  }

  /** True with probability p. */
  chance(p) {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick(items) {
    return items[this.below(items.length)];
  }

  /** `n` uniform bytes. */
  bytes(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const w = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (w >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

/** The seed of case `index` of a run seeded `seed`: every case replays alone from (seed, index). */
function caseSeed(seed, index) {
  return splitmix32((splitmix32(seed >>> 0) ^ Math.imul(index + 1, 0x27d4eb2d)) >>> 0);
}

module.exports = { Prng, splitmix32, caseSeed };
