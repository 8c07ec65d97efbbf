#!/usr/bin/env node
'use strict';
/**
 * kvmts fuzzing: `npm run fuzz -- <target|all> [--cases N] [--seed S] [--time-limit MS] [--json] [--save]`
 * and `npm run fuzz -- replay [target]` (the corpus). Runs the built dist (npm run fuzz builds).
 *
 * A case passes when the code under test accepts its input or rejects it with a typed error
 * (a KvmtsError subclass). Findings: an untyped error, a broken invariant, a hang (a case past
 * --time-limit), a crash (the worker died). --save writes each distinct finding to
 * scripts/fuzz/corpus/<target>/<id>.json, which packages/cli/test/fuzz.test.ts replays.
 * Exit status: 0 no findings, 1 findings, 2 bad command line.
 */
const { ConfigError, KvmtsError } = require('@kvmts/core');
const { TARGET_NAMES } = require('./lib/targets');
const { runTarget } = require('./lib/runner');
const { signature } = require('./lib/classify');
const { readCorpus, saveFinding } = require('./lib/corpus');

const INTEGER_OPTIONS = { cases: 1, seed: 0, 'time-limit': 1 };

function parseArgs(argv) {
  const o = { command: undefined, target: undefined, cases: 1000, seed: 1, 'time-limit': 2000, json: false, save: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json' || arg === '--save') {
      o[arg.slice(2)] = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m) {
      if (!(m[1] in INTEGER_OPTIONS)) throw new ConfigError(arg, `unknown option (known: --cases N, --seed S, --time-limit MS, --json, --save)`);
      const text = m[2] !== undefined ? m[2] : argv[++i];
      const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value) || value < INTEGER_OPTIONS[m[1]] || (m[1] === 'seed' && value > 0xffffffff)) {
        throw new ConfigError(`--${m[1]}`, `expects an integer ≥ ${INTEGER_OPTIONS[m[1]]}${m[1] === 'seed' ? ' and < 2^32' : ''}, got ${text === undefined ? 'nothing' : `'${text}'`}`);
      }
      o[m[1]] = value;
      continue;
    }
    if (o.command === undefined) o.command = arg;
    else if (o.command === 'replay' && o.target === undefined) o.target = arg;
    else throw new ConfigError(arg, `one target per run (already got '${o.command}')`);
  }
  return o;
}

function usage() {
  return [
    'usage: npm run fuzz -- <target|all> [--cases N] [--seed S] [--time-limit MS] [--json] [--save]',
    '       npm run fuzz -- replay [target]      replay the corpus (scripts/fuzz/corpus)',
    'targets:',
    ...TARGET_NAMES.map((n) => `  ${n.padEnd(12)} ${require('./lib/targets').loadTarget(n).description}`),
  ].join('\n');
}

/** One summary per target; distinct findings by signature, with how to replay the first of each. */
function report(result, o, print) {
  const unique = new Map();
  for (const f of result.findings) if (!unique.has(signature(f))) unique.set(signature(f), f);
  const byKind = {};
  for (const f of result.findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  const rate = result.cases / result.seconds;
  const saved = o.save ? [...unique.values()].map((f) => saveFinding(f)) : [];
  if (o.json) {
    print(JSON.stringify({ target: result.target, seed: result.seed, cases: result.cases, findings: result.findings.length, distinct: unique.size, by_kind: byKind, cases_per_s: Math.round(rate), seconds: Number(result.seconds.toFixed(2)), saved, first: [...unique.values()].map((f) => ({ kind: f.kind, index: f.index, error: `${f.error.name}: ${f.error.message.slice(0, 200)}` })) }));
    return;
  }
  print(`${result.target}: ${result.cases} cases, ${result.findings.length} findings (${unique.size} distinct), ${Math.round(rate)} cases/s, seed ${result.seed}`);
  for (const [sig, f] of unique) {
    print(`  ${f.kind} at case ${f.index}: ${f.error.name}: ${f.error.message.slice(0, 200)}`);
    if (f.error.stack) print(`    ${f.error.stack.split('\n')[0]}`);
    void sig;
  }
  for (const file of saved) print(`  saved ${file}`);
}

async function main(argv) {
  const o = parseArgs(argv);
  const print = (line) => process.stdout.write(`${line}\n`);
  if (o.command === undefined) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  let findings = 0;
  if (o.command === 'replay') {
    for (const [target, entries] of readCorpus(o.target)) {
      const result = await runTarget(target, { inputs: entries.map((e) => e.input), timeLimitMs: o['time-limit'] });
      findings += result.findings.length;
      report(result, { ...o, save: false }, print);
    }
    return findings > 0 ? 1 : 0;
  }
  const targets = o.command === 'all' ? TARGET_NAMES : [o.command];
  for (const target of targets) {
    const result = await runTarget(target, { seed: o.seed, cases: o.cases, timeLimitMs: o['time-limit'] });
    findings += result.findings.length;
    report(result, o, print);
  }
  return findings > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof KvmtsError) {
      process.stderr.write(`fuzz: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    // The runner gave up (a worker that would not stop): exit now, which ends that worker too.
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exit(1);
  },
);
