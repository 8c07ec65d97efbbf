'use strict';
/** Small process, hashing and logging helpers shared by the nested tiers. */
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

/** A nested-tier step failed; `step` names what was being done. */
class NestedError extends Error {
  constructor(step, message) {
    super(`${step}: ${message}`);
    this.name = 'NestedError';
    this.step = step;
  }
}

let logPrefix = '[nested]';
function setLogPrefix(prefix) { logPrefix = prefix; }
function log(...args) { process.stderr.write(`${logPrefix} ${args.join(' ')}\n`); }

/**
 * Runs a command to completion. Output is inherited (visible) unless `capture`, in which case
 * stdout is returned. Throws NestedError on a non-zero exit.
 */
function sh(cmd, args, { cwd, env, capture = false, input } = {}) {
  const r = spawnSync(cmd, args, {
    cwd, env: env ?? process.env, input, encoding: capture ? 'utf8' : undefined,
    stdio: [input === undefined ? 'ignore' : 'pipe', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new NestedError(cmd, r.error.message);
  if (r.status !== 0) {
    const err = capture && r.stderr ? `: ${String(r.stderr).trim().slice(-2000)}` : '';
    throw new NestedError(cmd, `${[cmd, ...args].join(' ')} exited ${r.status ?? r.signal}${err}`);
  }
  return capture ? r.stdout : '';
}

/** Like sh() with capture, but returns null instead of throwing. */
function tryCapture(cmd, args, opts = {}) {
  try { return sh(cmd, args, { ...opts, capture: true }); } catch { return null; }
}

/** Hex sha256 over strings, Buffers and the contents of files (given as {file}). */
function hashOf(parts) {
  const h = crypto.createHash('sha256');
  for (const p of parts) {
    if (p && typeof p === 'object' && 'file' in p) h.update(fs.readFileSync(p.file));
    else h.update(String(p));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function mkdirp(dir) { fs.mkdirSync(dir, { recursive: true }); return dir; }

/** Copies a tree (dereferencing nothing), creating parents. */
function copyTree(src, dst) {
  mkdirp(path.dirname(dst));
  fs.cpSync(src, dst, { recursive: true, verbatimSymlinks: true });
}

function seconds(ms) { return `${(ms / 1000).toFixed(1)} s`; }

module.exports = { NestedError, setLogPrefix, log, sh, tryCapture, hashOf, mkdirp, copyTree, seconds };
