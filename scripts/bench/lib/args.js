'use strict';
/**
 * Command line of `npm run bench -- <benchmark> [--json] [--iterations N] [--rounds N]
 * [--warmup N] [--cpl 0|3] [--arch A] [--only restore|save] [--runs N] [--cpus N] [--exits N] [--slice N] [--gc|--no-gc] [--trim]` (the last four: soak). Pure: returns options or throws ConfigError; run.js prints the message.
 */
const { ConfigError } = require('@kvmts/core');

// arch and cpus have no default: a benchmark that uses them decides (boot: the host's arch, 1 and 2 vCPUs).
const DEFAULTS = Object.freeze({ only: undefined, json: false, gc: true, trim: false, iterations: 100000, rounds: 3, warmup: 5000, cpl: 0, runs: 5, arch: undefined, cpus: undefined, exits: 10000000, slice: 1000000, memoryMib: 1024 });

/** Integer options: name → smallest allowed value, or the list of allowed values. */
const INTEGER_OPTIONS = { iterations: 1, rounds: 1, warmup: 0, cpl: [0, 3], runs: 1, cpus: 1, exits: 1, slice: 1, 'memory-mib': 80 };

/**
 * Flags (no value): --json for every benchmark; --gc and --trim for soak. soak collects garbage
 * before each sample by default (its verdict's allowances assume it): --no-gc turns that off.
 */
const FLAG_OPTIONS = ['json', 'gc', 'no-gc', 'trim'];

/** Word options: name → the allowed words. */
const WORD_OPTIONS = { arch: ['arm64', 'x86_64'], only: ['restore', 'save'] };

function parseWord(name, text) {
  if (text === undefined || !WORD_OPTIONS[name].includes(text)) {
    throw new ConfigError(`--${name}`, `expects one of ${WORD_OPTIONS[name].join(', ')}, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  }
  return text;
}
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

/** @returns {{ benchmark: string | undefined, json: boolean, gc: boolean, trim: boolean, iterations: number, rounds: number, warmup: number, cpl: 0 | 3, runs: number, arch: string | undefined, cpus: number | undefined, exits: number, slice: number }} */
function parseArgs(argv) {
  const options = { benchmark: undefined, ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (FLAG_OPTIONS.includes(arg.slice(2)) && arg.startsWith('--')) {
      const flag = arg.slice(2);
      if (flag.startsWith('no-')) options[flag.slice(3)] = false;
      else options[flag] = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m) {
      const value = m[2] !== undefined ? m[2] : argv[++i];
      if (m[1] in INTEGER_OPTIONS) options[key(m[1])] = parseInteger(m[1], value);
      else if (m[1] in WORD_OPTIONS) options[m[1]] = parseWord(m[1], value);
      else throw new ConfigError(arg, `unknown option (known: ${FLAG_OPTIONS.map((f) => `--${f}`).join(', ')}, ${[...Object.keys(INTEGER_OPTIONS).map((k) => `--${k} N`), ...Object.keys(WORD_OPTIONS).map((k) => `--${k} ${WORD_OPTIONS[k].join('|')}`)].join(', ')})`);
      continue;
    }
    if (options.benchmark !== undefined) throw new ConfigError(arg, `one benchmark per run (already got '${options.benchmark}')`);
    options.benchmark = arg;
  }
  return options;
}

module.exports = { parseArgs, DEFAULTS };
