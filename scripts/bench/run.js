#!/usr/bin/env node
'use strict';
/**
 * kvmts benchmarks: `npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N]
 * [--warmup N] [--cpl 0|3] [--arch A] [--runs N] [--cpus N] [--exits N] [--slice N] [--no-gc] [--trim]`. Each benchmark measures kvmts against a baseline in the same run, on the same
 * machine. The exit code is 0 whether or not a target is met (a benchmark is a measurement);
 * it is non-zero only when no valid measurement could be made.
 */
const { ConfigError, KvmtsError } = require('@kvmts/core');
const { parseArgs } = require('./lib/args');
const { jsonLines, humanLines } = require('./lib/report');

/**
 * Benchmark name → module exporting `description` and `run(options, progress)` (which may
 * return a promise), optionally `header(options)` and `humanLines(results)` of its own.
 */
const BENCHMARKS = {
  exits: () => {
    const m = require('./exits');
    return { description: m.description, run: m.runExits };
  },
  sync: () => {
    const m = require('./sync');
    return { description: m.description, run: m.runSync };
  },
  boot: () => {
    const m = require('./boot');
    return { description: m.description, run: m.runBoot, header: m.header, humanLines: m.humanLines };
  },
  soak: () => {
    const m = require('./soak');
    return { description: m.description, runMain: runSoakMain };
  },
  startup: () => {
    const m = require('./startup');
    return { description: m.description, run: m.runStartup, header: m.header, humanLines: m.humanLines };
  },
  checkpoint: () => {
    const m = require('./checkpoint');
    return { description: m.description, run: m.runCheckpoint, header: () => 'checkpoint (medians of --rounds):', jsonLines: m.jsonLines, humanLines: m.humanLines };
  },
};

/**
 * `soak` is not a comparison: it prints one line per sample (a JSON object with --json), the
 * totals and the drift (max − min) of each metric, and last the verdict line `flat: true|false`
 * (with --json: the summary's `verdict`).
 */
async function runSoakMain(options) {
  const { runSoak } = require('./soak');
  const { verdictLine } = require('./lib/soak-verdict');
  const print = (line) => process.stdout.write(`${line}\n`);
  if (!options.json) print(`soak: ${options.exits} exits in slices of ${options.slice} (PIO, MMIO, UART), one machine`);
  const result = await runSoak(
    options,
    options.json ? () => {} : print,
    options.json ? (s) => print(JSON.stringify({ sample: s })) : () => {},
  );
  if (options.json) print(JSON.stringify({ summary: result }));
  else {
    print(`done: ${result.exits} exits in ${result.seconds.toFixed(1)} s (IO ${result.exit_counts.IO}, MMIO ${result.exit_counts.MMIO}, ${result.console_bytes} console bytes)`);
    print(`drift (max − min after the first slice): ${Object.entries(result.drift).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    print(`drift including the first slice: ${Object.entries(result.drift_including_first_slice).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const grew = Object.entries(result.rss_growth_by_mapping.second_half).map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ');
    print(`resident KiB by mapping, change over the second half: ${grew || 'none'}`);
    // The verdict last (lib/soak-verdict.js has the rule); with --json it is the summary's `verdict`.
    print(verdictLine(result.verdict));
  }
  return 0;
}

function usage() {
  return [
    'usage: npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N] [--warmup N] [--cpl 0|3] [--arch A] [--runs N] [--cpus N] [--exits N] [--slice N] [--no-gc] [--trim] [--memory-mib N]',
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
  if (bench.runMain) return bench.runMain(options);
  // With --json, stdout carries only the result lines; progress goes to stderr.
  const progress = (line) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
  const header = bench.header
    ? bench.header(options)
    : `${options.benchmark}: ${options.iterations} timed exits per run, ${options.rounds} alternating rounds per side (median), ${options.warmup} warm-up exits, guest at CPL${options.cpl}`;
  progress(header);
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
