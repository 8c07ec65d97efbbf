'use strict';
/**
 * Command line of `npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N]
 * [--warmup N] [--cpl 0|3]`. Pure: returns options or throws ConfigError; run.js prints the message.
 */
const { ConfigError } = require('@kvmts/core');

const DEFAULTS = Object.freeze({ json: false, iterations: 100000, rounds: 3, warmup: 5000, cpl: 0, memoryMib: 1024 });

/** Integer options: name → smallest allowed value, or the list of allowed values. */
const INTEGER_OPTIONS = { iterations: 1, rounds: 1, warmup: 0, cpl: [0, 3], 'memory-mib': 80 };
/** Option name → options key (`--memory-mib` → memoryMib). */
const key = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

function parseInteger(name, text) {
  const allowed = INTEGER_OPTIONS[name];
  const min = Array.isArray(allowed) ? allowed[0] : allowed;
  const value = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
  const ok = Number.isSafeInteger(value) && (Array.isArray(allowed) ? allowed.includes(value) : value >= min);
  if (!ok) {
    const want = Array.isArray(allowed) ? `one of ${allowed.join(', ')}` : `an integer ≥ ${min}`;
    throw new ConfigError(`--${name}`, `expects ${want}, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  }
  return value;
}

/** @returns {{ benchmark: string | undefined, json: boolean, iterations: number, rounds: number, warmup: number, cpl: 0 | 3 }} */
function parseArgs(argv) {
  const options = { benchmark: undefined, ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') {
      options.json = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m) {
      if (!(m[1] in INTEGER_OPTIONS)) throw new ConfigError(arg, `unknown option (known: --json, ${Object.keys(INTEGER_OPTIONS).map((k) => `--${k} N`).join(', ')})`);
      options[key(m[1])] = parseInteger(m[1], m[2] !== undefined ? m[2] : argv[++i]);
      continue;
    }
    if (options.benchmark !== undefined) throw new ConfigError(arg, `one benchmark per run (already got '${options.benchmark}')`);
    options.benchmark = arg;
  }
  return options;
}

module.exports = { parseArgs, DEFAULTS };
