/**
 * The fuzzing habit in `npm test` (host tier): the PRNG and the input codec against golden
 * values, the runner's classification of every outcome (a target that misbehaves on purpose),
 * then every target with a short budget and a fixed seed, and the regression corpus replayed
 * (scripts/fuzz/corpus: each file an input that once failed, fixed since). `npm run fuzz` is
 * the long, on-demand run (docs/testing.md, "Fuzzing"). The fuzzer runs the built dist (npm
 * test builds first), in a child process as `npm run fuzz` does.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@kvmts/core';

const ROOT = path.join(__dirname, '..', '..', '..');
const FUZZ = path.join(ROOT, 'scripts', 'fuzz');
/* eslint-disable @typescript-eslint/no-require-imports -- plain-JS tooling outside the packages */
const { Prng, caseSeed, splitmix32 } = require(path.join(FUZZ, 'lib', 'prng.js'));
const { encode, decode } = require(path.join(FUZZ, 'lib', 'codec.js'));
const { classify } = require(path.join(FUZZ, 'lib', 'classify.js'));
const { InvariantViolation } = require(path.join(FUZZ, 'lib', 'invariant.js'));
const { runTarget } = require(path.join(FUZZ, 'lib', 'runner.js'));
const { TARGET_NAMES } = require(path.join(FUZZ, 'lib', 'targets.js'));
const { readCorpus } = require(path.join(FUZZ, 'lib', 'corpus.js'));

const hex = (n: number): string => `0x${n.toString(16)}`;

/** `node scripts/fuzz/run.js …` → its JSON lines and exit status. */
function fuzzCli(args: string[]): { status: number | null; lines: Record<string, unknown>[]; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(FUZZ, 'run.js'), ...args, '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines, stderr: r.stderr };
}

describe('fuzz PRNG (sfc32 seeded by splitmix32)', () => {
  it('gives the golden sequence for seed 1 and for 0xdeadbeef', () => {
    const p = new Prng(1);
    expect([p.u32(), p.u32(), p.u32(), p.u32()].map(hex)).toEqual(['0xb9ce9da3', '0x1bcce1b9', '0x2cfa7db7', '0xaffd5fdc']);
    const q = new Prng(0xdeadbeef);
    expect([q.u32(), q.u32()].map(hex)).toEqual(['0x7ee988f9', '0xf0b37235']);
    expect(hex(splitmix32(0))).toBe('0x92ca2f0e');
    expect([0, 1, 2].map((i) => hex(caseSeed(1, i)))).toEqual(['0xe7ecefe2', '0x44d11c2', '0xcd3f6857']);
  });

  it('is the reference sfc32 (Doty-Humphrey) after seeding: same outputs from the same a, b, c, d', () => {
    // The widely used reference formulation, written independently of Prng's.
    function sfc32(a: number, b: number, c: number, d: number): () => number {
      return () => {
        a |= 0; b |= 0; c |= 0; d |= 0;
        const t = (((a + b) | 0) + d) | 0;
        d = (d + 1) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        c = (c + t) | 0;
        return t >>> 0;
      };
    }
    let s = 42;
    const next = (): number => (s = splitmix32(s));
    const ref = sfc32(next(), next(), next(), 1);
    for (let i = 0; i < 12; i++) ref();
    const p = new Prng(42);
    for (let i = 0; i < 1000; i++) expect(p.u32()).toBe(ref());
  });

  it('below() is unbiased and in range, int() covers both ends, bytes() is deterministic', () => {
    const p = new Prng(9);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) counts[p.below(3)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400); // ~4.5 σ
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(p.int(-2, 2));
    expect([...seen].sort()).toEqual([-1, -2, 0, 1, 2].sort());
    const big = p.int(0, 2 ** 40);
    expect(Number.isSafeInteger(big) && big >= 0 && big <= 2 ** 40).toBe(true);
    expect(Buffer.from(new Prng(7).bytes(6)).toString('hex')).toBe('0c7985e5619b');
    expect(() => p.below(0)).toThrow(RangeError);
  });
});

describe('fuzz input codec', () => {
  it('round-trips what JSON cannot hold: undefined, NaN, ±Infinity, -0, bigint, bytes, symbols, own __proto__ keys, huge strings', () => {
    const tricky: Record<string, unknown> = {};
    Object.defineProperty(tricky, '__proto__', { value: { polluted: 1 }, enumerable: true, writable: true, configurable: true });
    const value = [undefined, NaN, Infinity, -Infinity, -0, 2n ** 70n, -5n, Uint8Array.of(0, 255), Symbol.for('s'), tricky, 'ab'.repeat(5000), { ['x'.repeat(2000)]: 1 }];
    const json = JSON.parse(JSON.stringify(encode(value)));
    const back = decode(json) as unknown[];
    expect(Object.is(back[1], NaN) && back[2] === Infinity && back[3] === -Infinity && Object.is(back[4], -0)).toBe(true);
    expect(back[0]).toBeUndefined();
    expect(back[5]).toBe(2n ** 70n);
    expect(back[6]).toBe(-5n);
    expect(back[7]).toEqual(Uint8Array.of(0, 255));
    expect(back[8]).toBe(Symbol.for('s'));
    const obj = back[9] as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype); // an own key, not a prototype change
    expect(back[10]).toBe('ab'.repeat(5000));
    expect(Object.keys(back[11] as object)).toEqual(['x'.repeat(2000)]);
    // Long repeated strings are stored as one unit and a count, keeping corpus files small.
    expect(JSON.stringify(encode('ab'.repeat(5000)))).toBe('{"$t":"repeat","v":"ab","n":5000}');
  });
});

describe('fuzz runner', () => {
  it('classifies outcomes: a KvmtsError or a return passes; anything else thrown and broken invariants are findings', () => {
    expect(classify(undefined)).toBeUndefined();
    expect(classify(new ConfigError('x', 'bad'))).toBeUndefined();
    expect(classify(new TypeError('t'))).toMatchObject({ kind: 'untyped', error: { name: 'TypeError', message: 't' } });
    expect(classify(new InvariantViolation('i'))).toMatchObject({ kind: 'invariant', error: { name: 'InvariantViolation' } });
    expect(classify('s')).toMatchObject({ kind: 'untyped', error: { name: 'string', message: 's' } });
  });

  it('finds untyped errors, broken invariants and a hang in a target that misbehaves, and continues after the hang', async () => {
    const outcomes = ['pass', 'typed', 'untyped', 'invariant', 'hang', 'string', 'untyped'];
    const r = await runTarget('fixture', {
      targetModule: path.join(__dirname, 'fixtures', 'fuzz-misbehaving-target.js'),
      inputs: outcomes.map((outcome) => encode({ outcome })),
      timeLimitMs: 1000,
    });
    expect(r.cases).toBe(7);
    expect(r.findings.map((f: { index: number; kind: string }) => [f.index, f.kind])).toEqual([
      [2, 'untyped'],
      [3, 'invariant'],
      [4, 'hang'],
      [5, 'untyped'],
      [6, 'untyped'],
    ]);
    // The hang's input is kept (for the corpus), as the others' are.
    expect(decode(r.findings[2].input)).toEqual({ outcome: 'hang' });
  });

  it('generates the same cases for the same seed', async () => {
    const run = () => runTarget('fixture', { targetModule: path.join(__dirname, 'fixtures', 'fuzz-misbehaving-target.js'), seed: 77, cases: 12, timeLimitMs: 600 });
    const a = await run();
    const b = await run();
    expect(a.findings.map((f: { index: number; kind: string }) => `${f.index}:${f.kind}`)).toEqual(b.findings.map((f: { index: number; kind: string }) => `${f.index}:${f.kind}`));
    expect(a.findings.length).toBeGreaterThan(0);
  }, 60000);
});

describe('fuzz targets (short budget, fixed seed)', () => {
  it('every target runs 400 cases with 0 findings', () => {
    // A generous per-case limit: the project machine's 2 cores are shared, and a hang here means
    // a case that never ends, not a slow one.
    const r = fuzzCli(['all', '--cases', '400', '--seed', '20261202', '--time-limit', '15000']);
    expect(r.stderr).toBe('');
    expect(r.lines.map((l) => l.target)).toEqual(TARGET_NAMES);
    for (const l of r.lines) expect({ target: l.target, cases: l.cases, findings: l.findings, first: l.first }).toEqual({ target: l.target, cases: 400, findings: 0, first: [] });
    expect(r.status).toBe(0);
  }, 120000);

  it('an unknown target is a usage error naming the targets', () => {
    const r = spawnSync(process.execPath, [path.join(FUZZ, 'run.js'), 'no-such-target'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown fuzz target 'no-such-target' (available: config, flat-image");
  });
});

describe('fuzz regression corpus', () => {
  it('replays every saved finding with 0 findings now', () => {
    const corpus = readCorpus() as Map<string, unknown[]>;
    const files = [...corpus.values()].reduce((n, e) => n + e.length, 0);
    expect(files).toBeGreaterThan(0);
    const r = fuzzCli(['replay', '--time-limit', '15000']);
    expect(r.stderr).toBe('');
    expect(r.lines.map((l) => [l.target, l.cases, l.findings])).toEqual([...corpus].map(([t, e]) => [t, e.length, 0]));
    expect(r.status).toBe(0);
  }, 120000);

  it('every corpus file names the target it is filed under and how it was found', () => {
    for (const [target, entries] of readCorpus() as Map<string, { target: string; file: string; found: { kind: string; error: string } }[]>) {
      for (const e of entries) {
        expect(e.target).toBe(target);
        expect(path.basename(e.file)).toMatch(new RegExp(`^${e.found.kind}-[0-9a-f]{12}\\.json$`));
        expect(fs.existsSync(e.file)).toBe(true);
      }
    }
  });
});
