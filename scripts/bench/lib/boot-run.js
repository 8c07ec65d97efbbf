'use strict';
/**
 * One timed Linux boot: spawn a VMM process, time from just before spawn to the first
 * appearance of a marker on its output (stdout or stderr), then wait for it to exit. Both sides
 * of `npm run bench -- boot` go through this, so the clock starts and stops at the same points.
 */
const { spawn } = require('node:child_process');
const { BenchError } = require('./errors');

/** Longest a single boot may take (the nested arm64 host runs one in ~30 s). */
const BOOT_TIMEOUT_MS = 300_000;

/**
 * Watches a stream of chunks for `marker`; remembers when (hrtime, ns) it first completed.
 * Chunks may split the marker anywhere, so a tail as long as the marker is kept.
 */
class MarkerClock {
  constructor(marker, now = () => process.hrtime.bigint()) {
    this.marker = marker;
    this.now = now;
    this.tail = '';
    this.at = undefined;
  }

  feed(text) {
    if (this.at !== undefined) return;
    const seen = this.tail + text;
    if (seen.includes(this.marker)) this.at = this.now();
    else this.tail = seen.slice(-(this.marker.length - 1));
  }
}

/**
 * @param {{ label: string, bin: string, args: string[], env?: object, marker: string, timeoutMs?: number }} o
 * @returns {Promise<{ ns: number, code: number, stdout: string, stderr: string, output: string }>} ns: spawn → marker
 */
function timedBoot(o) {
  return new Promise((resolve, reject) => {
    const clock = new MarkerClock(o.marker);
    let stdout = '';
    let stderr = '';
    let output = ''; // both streams, for the error message
    const t0 = process.hrtime.bigint();
    const child = spawn(o.bin, o.args, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
    const onData = (isStdout) => (chunk) => {
      const text = chunk.toString('latin1');
      clock.feed(text);
      if (isStdout) stdout += text;
      else stderr += text;
      output = (output + text).slice(-8192);
    };
    child.stdout.on('data', onData(true));
    child.stderr.on('data', onData(false));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? BOOT_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new BenchError(`${o.label}: cannot start ${o.bin}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tail = output.trim().split('\n').slice(-15).join('\n');
      if (clock.at === undefined) {
        reject(new BenchError(`${o.label}: exited ${code ?? signal} without printing '${o.marker}'; its last output:\n${tail}`));
      } else if (code !== 0) {
        reject(new BenchError(`${o.label}: printed the marker but exited ${code ?? signal} (not a clean power-off); its last output:\n${tail}`));
      } else {
        resolve({ ns: Number(clock.at - t0), code, stdout, stderr, output });
      }
    });
  });
}

module.exports = { timedBoot, MarkerClock, BOOT_TIMEOUT_MS };
