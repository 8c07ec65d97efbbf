#!/usr/bin/env node
'use strict';
/**
 * A third-party project that installs kvmts from its tarballs, as a user would:
 *
 *   node scripts/pack/scratch-project.js [--root <dir>]                  create or reuse it, compile it
 *   node scripts/pack/scratch-project.js --run-example [--root <dir>]    same, then run the README example
 *   node scripts/pack/scratch-project.js --run-example <project dir>     run the example of an existing one
 *
 * Running the example needs /dev/kvm (and GNU as/ld: the example assembles its guest).
 *
 * The project lives in os.tmpdir() (or --root), outside the monorepo: no workspaces, no path
 * mapping, no node_modules above it. npm installs the tarballs plus tsyringe, reflect-metadata
 * and @types/node from the registry (the native package compiles on install, cmake-js offline)
 * and the local package scratch-device. The install is cached by a hash of the tarballs (npm
 * pack output is reproducible), so an unchanged checkout reuses it. The sources are rewritten on
 * every run — the README's "Composing a machine" example as example.ts, scratch-template/ for the
 * rest — and compiled with this checkout's tsc against the installed .d.ts files only.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { packWorkspaces, REPO } = require('./pack');
const { PackError, hashFiles, run, timed } = require('./lib/util');

const TEMPLATE = path.join(__dirname, 'scratch-template');
/** Template files the install depends on (the rest are rewritten on every run). */
const INSTALL_INPUTS = ['package.json', path.join('scratch-device', 'package.json')];
const PREFIX = 'kvmts-scratch-';
/** Cached installs not used for this long are deleted when a new one is made. */
const STALE_MS = 24 * 3600 * 1000;
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

/** The README's "Composing a machine" code block, so that the README is what gets tested. */
function readmeExample() {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const section = readme.split(/^## Composing a machine$/m)[1];
  const code = section && /^```ts\n([\s\S]*?)^```/m.exec(section.split(/^## /m)[0]);
  if (!code) throw new PackError('example', 'README.md has no ```ts block under "## Composing a machine"');
  return code[1];
}

/** Registry packages a kvmts user installs next to kvmts, at the versions this checkout uses. */
function registryPackages() {
  const dev = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).devDependencies;
  return ['tsyringe', 'reflect-metadata', '@types/node'].map((name) => `${name}@${dev[name]}`);
}

function deleteStaleProjects(root, keep) {
  for (const name of fs.readdirSync(root)) {
    const dir = path.join(root, name);
    if (!name.startsWith(PREFIX) || dir === keep) continue;
    if (Date.now() - fs.statSync(dir).mtimeMs > STALE_MS) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Installs the tarballs in a fresh project at `dir`. It is assembled next to `dir` and renamed
 * into place when complete, so `dir` existing means a finished install, even with two runs at once.
 */
function install(dir, tarballs) {
  const staging = fs.mkdtempSync(`${dir}.staging-`);
  try {
    fs.chmodSync(staging, 0o755); // mkdtemp makes it private; it is an ordinary project
    fs.mkdirSync(path.join(staging, 'scratch-device'));
    fs.mkdirSync(path.join(staging, 'tarballs'));
    for (const file of INSTALL_INPUTS) fs.copyFileSync(path.join(TEMPLATE, file), path.join(staging, file));
    const local = tarballs.map((t) => {
      fs.renameSync(t, path.join(staging, 'tarballs', path.basename(t)));
      return `./tarballs/${path.basename(t)}`;
    });
    const args = ['install', '--prefer-offline', '--no-audit', '--no-fund', ...local, ...registryPackages(), './scratch-device'];
    run('npm install', 'npm', args, { cwd: staging, timeoutMs: INSTALL_TIMEOUT_MS });
    try {
      fs.renameSync(staging, dir);
    } catch (error) {
      if (!fs.existsSync(dir)) throw error; // else: another run finished the same install first
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** (Re)writes the project's sources: the README example and the template's device and tsconfig. */
function writeSources(dir) {
  fs.writeFileSync(path.join(dir, 'example.ts'), readmeExample());
  fs.cpSync(path.join(TEMPLATE, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  fs.cpSync(path.join(TEMPLATE, 'device-example.ts'), path.join(dir, 'device-example.ts'));
  fs.cpSync(path.join(TEMPLATE, 'scratch-device', 'index.ts'), path.join(dir, 'scratch-device', 'index.ts'));
}

/**
 * Packs the workspaces and installs the tarballs in a scratch project under `root` (reused when
 * the tarballs are unchanged), then writes its sources. Returns { dir, tarballs, cached,
 * packMs, installMs }; `tarballs` are the project's copies.
 */
function createScratchProject({ root = os.tmpdir(), log = () => {} } = {}) {
  const packs = fs.mkdtempSync(path.join(root, 'kvmts-packs-'));
  try {
    const [packed, packMs] = timed(() => packWorkspaces(packs));
    log(`packed ${packed.length} packages in ${(packMs / 1000).toFixed(1)} s`);
    const inputs = [...packed, ...INSTALL_INPUTS.map((file) => path.join(TEMPLATE, file))];
    const dir = path.join(root, PREFIX + hashFiles(inputs, registryPackages().join(' ')));
    const cached = fs.existsSync(dir);
    let installMs = 0;
    if (cached) fs.utimesSync(dir, new Date(), new Date()); // keeps it from counting as stale
    else [, installMs] = timed(() => install(dir, packed));
    log(cached ? `reusing ${dir} (same tarballs)` : `installed ${dir} in ${(installMs / 1000).toFixed(1)} s`);
    deleteStaleProjects(root, dir);
    writeSources(dir);
    const tarballs = fs.readdirSync(path.join(dir, 'tarballs')).sort().map((f) => path.join(dir, 'tarballs', f));
    return { dir, tarballs, cached, packMs, installMs };
  } finally {
    fs.rmSync(packs, { recursive: true, force: true });
  }
}

/**
 * Type-checks the project with this checkout's tsc and emits its .js. Returns { ok, output,
 * files }: the diagnostics, and every file the compiler read (to check where types came from).
 */
function compile(dir) {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [REPO] });
  const r = run('tsc', process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json'), '--listFiles'], { cwd: dir, check: false });
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((line) => line.trim());
  const files = lines.filter((line) => path.isAbsolute(line) && fs.existsSync(line));
  return { ok: r.status === 0, output: lines.filter((line) => !files.includes(line)).join('\n'), files };
}

/** Runs the compiled README example (needs /dev/kvm). Returns { status, stdout, stderr }. */
function runExample(dir) {
  return run('example', process.execPath, ['example.js'], { cwd: dir, check: false, timeoutMs: 120_000 });
}

/** Runs the compiled device example: the scratch device in a running machine (needs /dev/kvm). */
function runDeviceExample(dir) {
  return run('device example', process.execPath, ['device-example.js'], { cwd: dir, check: false, timeoutMs: 120_000 });
}

module.exports = { createScratchProject, compile, runExample, runDeviceExample };

function main(argv) {
  const runIt = argv.includes('--run-example');
  const rootAt = argv.indexOf('--root');
  const given = argv.find((a, i) => !a.startsWith('--') && (rootAt < 0 || i !== rootAt + 1));
  const log = (line) => process.stderr.write(`[scratch] ${line}\n`);
  let dir = given && path.resolve(given);
  if (!dir) {
    const project = createScratchProject({ root: rootAt >= 0 ? path.resolve(argv[rootAt + 1]) : undefined, log });
    const result = compile(project.dir);
    if (!result.ok) throw new PackError('tsc', `${project.dir} does not type-check:\n${result.output}`);
    dir = project.dir;
    process.stdout.write(`${dir}\n`);
  }
  if (runIt) {
    const r = runExample(dir);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exitCode = r.status ?? 1;
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}
