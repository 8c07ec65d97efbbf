'use strict';
/**
 * The C baseline program: compiled from scripts/bench/baseline.c with `gcc -O2` into a temp
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
 * Compile baseline.c into `dir`; returns the executable's path. KVMTS_BENCH_BASELINE names one
 * compiled beforehand instead, for hosts without a compiler (the nested test hosts).
 */
function buildBaseline(dir) {
  if (process.env.KVMTS_BENCH_BASELINE) return process.env.KVMTS_BENCH_BASELINE;
  const out = path.join(dir, 'baseline');
  exec(process.env.CC || 'gcc', ['-O2', '-Wall', '-o', out, SOURCE]);
  return out;
}

/**
 * One baseline run on the state files in `inputDir`.
 * @returns {{ exits: number, ns: number, warmup: number }}
 */
function runBaseline(exe, inputDir, { tssAddress, exitReason, warmup }) {
  const text = exec(exe, [inputDir, `0x${tssAddress.toString(16)}`, String(exitReason), String(warmup)]);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BenchError(`baseline printed no JSON: ${text.trim()}`, { cause: err });
  }
}

module.exports = { buildBaseline, runBaseline };
