#!/usr/bin/env node
'use strict';
/**
 * Packs every workspace package into a tarball, as it would be published:
 *
 *   node scripts/pack/pack.js [dest]        (npm run pack; default dest .cache/packs)
 *
 * Builds the packages first (tsc -b: a no-op when they are up to date, then the CLI's bundle) after deleting compiled
 * files whose source is gone (tsc -b never does, and `files` would ship them), then lets lerna
 * run `npm pack` in each package. npm pack is reproducible (fixed mtimes), so equal contents
 * give byte-equal tarballs. Prints one line per tarball.
 */
const fs = require('fs');
const path = require('path');
const { PackError, run, timed } = require('./lib/util');

const REPO = path.resolve(__dirname, '..', '..');
const DEFAULT_DEST = path.join(REPO, '.cache', 'packs');
const COMPILED = /(\.d\.ts|\.js)(\.map)?$/;

/** The workspace package directories, from the root package.json. */
function workspaceDirs() {
  const root = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  return root.workspaces.map((w) => path.join(REPO, w));
}

/** Deletes dist/ files compiled from a src/ file that no longer exists. Returns what it deleted. */
function pruneOrphans(packageDir) {
  const dist = path.join(packageDir, 'dist');
  if (!fs.existsSync(dist)) return [];
  const orphans = fs
    .readdirSync(dist, { recursive: true, encoding: 'utf8' })
    .filter((rel) => COMPILED.test(rel) && !fs.existsSync(path.join(packageDir, 'src', rel.replace(COMPILED, '.ts'))));
  for (const rel of orphans) fs.rmSync(path.join(dist, rel));
  return orphans.map((rel) => path.join(dist, rel));
}

/** Builds and packs every package into `dest` (emptied first). Returns the tarball paths. */
function packWorkspaces(dest = DEFAULT_DEST) {
  for (const dir of workspaceDirs()) pruneOrphans(dir);
  run('build', process.execPath, [require.resolve('typescript/bin/tsc', { paths: [REPO] }), '-b'], { cwd: REPO });
  // The CLI ships its bundle (one file for the command, one for its vCPU worker): made after tsc -b.
  run('bundle', process.execPath, [path.join(REPO, 'scripts', 'bundle', 'build.js')], { cwd: REPO });
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const lerna = require.resolve('lerna/dist/cli.js', { paths: [REPO] });
  run('pack', process.execPath, [lerna, 'exec', '--stream', '--', 'npm', 'pack', '--pack-destination', dest], { cwd: REPO });
  const tarballs = fs.readdirSync(dest).filter((f) => f.endsWith('.tgz')).sort().map((f) => path.join(dest, f));
  if (tarballs.length !== workspaceDirs().length) {
    throw new PackError('pack', `expected ${workspaceDirs().length} tarballs in ${dest}, found ${tarballs.length}`);
  }
  return tarballs;
}

module.exports = { packWorkspaces, REPO };

if (require.main === module) {
  try {
    const [tarballs, ms] = timed(() => packWorkspaces(process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_DEST));
    for (const t of tarballs) process.stdout.write(`${path.relative(process.cwd(), t)}  ${(fs.statSync(t).size / 1024).toFixed(1)} KiB\n`);
    process.stdout.write(`packed ${tarballs.length} packages in ${(ms / 1000).toFixed(1)} s\n`);
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}
