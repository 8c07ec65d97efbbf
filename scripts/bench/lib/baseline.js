'use strict';
/**
 * The C baseline programs: compiled from scripts/bench/<name>.c with `gcc -O2` into a temp
 * directory at bench time, then run once per round (a fresh VM each time, like kvmts).
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { BenchError } = require('./errors');

const SOURCE = path.join(__dirname, '..', 'baseline.c');

function exec(tool, args) {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (err.code === 'ENOENT') throw new BenchError(`'${tool}' not found (apt-get install gcc)`, { cause: err });
    throw new BenchError(`${path.basename(tool)} failed: ${(err.stderr || err.message).trim()}`, { cause: err });
  }
}

/**
 * Compile `source` (default baseline.c) into `dir`; returns the executable's path. The
 * environment variable `prebuiltEnv` (KVMTS_BENCH_BASELINE for baseline.c) names one compiled
 * beforehand instead, for hosts without a compiler (the nested test hosts).
 */
function buildBaseline(dir, source = SOURCE, prebuiltEnv = 'KVMTS_BENCH_BASELINE') {
  if (process.env[prebuiltEnv]) return process.env[prebuiltEnv];
  const out = path.join(dir, path.basename(source, '.c'));
  exec(process.env.CC || 'gcc', ['-O2', '-Wall', '-o', out, source]);
  return out;
}

/** Run a baseline program; it prints one JSON line. */
function runJson(exe, args) {
  const text = exec(exe, args);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BenchError(`${path.basename(exe)} printed no JSON: ${text.trim()}`, { cause: err });
  }
}

/**
 * One run of baseline.c on the state files in `inputDir`.
 * @returns {{ exits: number, ns: number, warmup: number }}
 */
function runBaseline(exe, inputDir, { tssAddress, exitReason, warmup }) {
  return runJson(exe, [inputDir, `0x${tssAddress.toString(16)}`, String(exitReason), String(warmup)]);
}

module.exports = { buildBaseline, runBaseline, runJson };
