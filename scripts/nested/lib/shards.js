'use strict';
/**
 * Splits a nested tier's test files over several emulated hosts. Each L1 runs single-threaded
 * TCG, so one L1 keeps one host core busy; two run side by side on two cores.
 *
 * The file list comes from jest itself (`--listTests` on the host with the tier's config and
 * the caller's jest arguments), so the shards together run exactly what one L1 would. The split
 * is greedy, longest file first onto the least-loaded shard, by the duration each file took last
 * time (kept in the cache per tier); files never measured are weighed by their size.
 */
const fs = require('fs');
const path = require('path');
const { NestedError, sh } = require('./util');

/**
 * The test files jest would run for this tier with these arguments (absolute paths). Jest's
 * haste map of the repo lands in `cacheDir`, where the guests' jest finds it.
 */
function listTests(repo, tierName, jestArgs, cacheDir) {
  const jest = require.resolve('jest/bin/jest', { paths: [repo] });
  const out = sh(process.execPath, [jest, ...jestArgs, '--ci', '--listTests', '--json', `--cacheDirectory=${cacheDir}`],
    { cwd: repo, env: { ...process.env, KVMTS_TIER: tierName }, capture: true });
  const json = out.trim().split('\n').pop();
  try {
    return JSON.parse(json).sort();
  } catch {
    throw new NestedError('jest --listTests', `unexpected output: ${json.slice(0, 200)}`);
  }
}

function durationsFile(cacheDir, tierName) { return path.join(cacheDir, `durations-${tierName}.json`); }

/** Last measured milliseconds per file, keyed by the path relative to the repo. */
function loadDurations(cacheDir, tierName) {
  try {
    return JSON.parse(fs.readFileSync(durationsFile(cacheDir, tierName), 'utf8'));
  } catch {
    return {}; // first run, or a damaged file: weigh by size
  }
}

/**
 * Merges this run's measurements (relative path → ms) into the cache. A file that took no time
 * did not run (it failed to load, or its host died first): its last real figure is kept, as a 0
 * would say nothing about how long it takes.
 */
function saveDurations(cacheDir, tierName, measured) {
  const real = Object.fromEntries(Object.entries(measured).filter(([, ms]) => typeof ms === 'number' && ms > 0));
  if (Object.keys(real).length === 0) return;
  const file = durationsFile(cacheDir, tierName);
  const merged = { ...loadDurations(cacheDir, tierName), ...real };
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(merged, null, 1)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * @param files absolute test paths
 * @param durations relative path → ms, from loadDurations
 * @param count at most this many shards (fewer when there are fewer files)
 * @returns [{files: [abs paths, longest first], weight}] — one entry per shard, none empty
 */
function planShards(repo, files, durations, count) {
  const measured = files.map((f) => durations[path.relative(repo, f)]);
  const sizes = files.map((f) => fs.statSync(f).size);
  // Unmeasured files are weighed by size, in milliseconds at the measured files' ms per byte
  // (or in bytes when nothing was measured yet: then all weights share that unit).
  const known = files.map((_, i) => i).filter((i) => measured[i] !== undefined);
  const msPerByte = known.length
    ? known.reduce((a, i) => a + measured[i], 0) / known.reduce((a, i) => a + sizes[i], 0)
    : 1;
  const weighed = files.map((file, i) => ({ file, weight: measured[i] ?? sizes[i] * msPerByte }))
    .sort((a, b) => b.weight - a.weight || a.file.localeCompare(b.file));
  const shards = Array.from({ length: Math.min(count, files.length) }, () => ({ files: [], weight: 0 }));
  for (const w of weighed) {
    // On equal weights the shard with fewer files: files of equal (even zero) weight spread out,
    // so no shard is left empty while there are files for it.
    const lightest = shards.reduce((a, b) => (b.weight < a.weight || (b.weight === a.weight && b.files.length < a.files.length) ? b : a));
    lightest.files.push(w.file);
    lightest.weight += w.weight;
  }
  return shards;
}

module.exports = { listTests, loadDurations, saveDurations, planShards };
