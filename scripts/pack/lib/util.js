'use strict';
/** Process, hashing and timing helpers for packing and the scratch project. */
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');

/** A packing or scratch-project step failed; `step` names what was being done. */
class PackError extends Error {
  constructor(step, message) {
    super(`${step}: ${message}`);
    this.name = 'PackError';
    this.step = step;
  }
}

/**
 * The environment for child npm/node processes: this one without what `npm run` and `npm exec`
 * set for their own script (the caller's package and lifecycle) and without NODE_PATH, so a
 * child sees only its own directory's packages.
 */
function childEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(npm_package_|npm_lifecycle_)/.test(name) || ['npm_command', 'npm_config_local_prefix', 'INIT_CWD', 'NODE_PATH'].includes(name)) {
      delete env[name];
    }
  }
  return env;
}

/**
 * Runs a command to completion in `cwd`. Returns { status, stdout, stderr } when `check` is
 * false; otherwise throws PackError naming `step` on a non-zero exit and returns stdout.
 */
function run(step, cmd, args, { cwd, check = true, timeoutMs } = {}) {
  const r = spawnSync(cmd, args, { cwd, env: childEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new PackError(step, `${cmd}: ${r.error.message}`);
  if (!check) return r;
  if (r.status !== 0) {
    const output = `${r.stdout}\n${r.stderr}`.trim().slice(-4000);
    throw new PackError(step, `\`${[cmd, ...args].join(' ')}\` in ${cwd} exited ${r.status ?? r.signal}:\n${output}`);
  }
  return r.stdout;
}

/** Hex sha256 (16 digits) over the given files' contents, in the order given, and `extra`. */
function hashFiles(files, extra = '') {
  const h = crypto.createHash('sha256');
  for (const file of files) h.update(fs.readFileSync(file)).update('\0');
  return h.update(extra).digest('hex').slice(0, 16);
}

/** Runs `fn`, returns [its result, milliseconds taken]. */
function timed(fn) {
  const t0 = process.hrtime.bigint();
  const result = fn();
  return [result, Number((process.hrtime.bigint() - t0) / 1_000_000n)];
}

module.exports = { PackError, run, hashFiles, timed };
