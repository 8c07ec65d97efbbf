#!/usr/bin/env node
'use strict';
/**
 * kvmts benchmarks: `npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N]
 * [--warmup N] [--cpl 0|3]`. Each benchmark measures kvmts against a baseline in the same run, on the same
 * machine. The exit code is 0 whether or not a target is met (a benchmark is a measurement);
 * it is non-zero only when no valid measurement could be made.
 */
const { ConfigError, KvmtsError } = require('@kvmts/core');
const { parseArgs } = require('./lib/args');
const { jsonLines, humanLines } = require('./lib/report');

/** Benchmark name → module exporting `description` and `run(options, progress)`. */
const BENCHMARKS = {
  exits: () => {
    const m = require('./exits');
    return { description: m.description, run: m.runExits };
  },
  sync: () => {
    const m = require('./sync');
    return { description: m.description, run: m.runSync };
  },
  checkpoint: () => {
    const m = require('./checkpoint');
    return { description: m.description, run: m.runCheckpoint, header: () => 'checkpoint (medians of --rounds):', jsonLines: m.jsonLines, humanLines: m.humanLines };
  },
};

function usage() {
  return [
    'usage: npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N] [--warmup N] [--cpl 0|3]',
    'benchmarks:',
    ...Object.entries(BENCHMARKS).map(([name, load]) => `  ${name.padEnd(8)} ${load().description}`),
  ].join('\n');
}

async function main(argv) {
  const options = parseArgs(argv);
  if (options.benchmark === undefined) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  const load = BENCHMARKS[options.benchmark];
  if (load === undefined) {
    process.stderr.write(`bench: unknown benchmark '${options.benchmark}' (available: ${Object.keys(BENCHMARKS).join(', ')})\n`);
    return 2;
  }
  const bench = load();
  const progress = options.json ? () => {} : (line) => process.stdout.write(`${line}\n`);
  const header = bench.header ? bench.header(options) : `${options.benchmark}: ${options.iterations} timed exits per run, ${options.rounds} alternating rounds per side (median), ${options.warmup} warm-up exits, guest at CPL${options.cpl}`;
  progress(header);
  // A benchmark may be asynchronous (checkpoint drives whole machines).
  const results = await bench.run(options, progress);
  const lines = options.json ? (bench.jsonLines ?? jsonLines)(results) : ['', ...(bench.humanLines ?? humanLines)(results, 'median of rounds:')];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (!(e instanceof KvmtsError)) throw e;
    process.stderr.write(`bench: ${e.message}\n`);
    // 2: the command line was wrong; 1: no valid measurement could be made.
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  },
);
