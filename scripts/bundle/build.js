#!/usr/bin/env node
'use strict';
/**
 * Bundles the kvmts CLI and its vCPU worker into one file each (packages/cli/bundle/), from the
 * packages' compiled dist/ (so run after `tsc -b`; `npm run build` does both):
 *
 *   node scripts/bundle/build.js
 *
 * Why: Node reads and compiles each module file separately, and the CLI is ~250 of them (core,
 * the arch plugins, tsyringe, commander) in the main thread and again in every vCPU thread's
 * isolate. In the emulated arm64 host each file costs ~40 ms (scripts/bench/README.md, `boot`).
 *
 * What stays outside: native's addon (kvmts_native.node, require()d by path at run time).
 * Everything else is bundled from the compiled JavaScript (tsc already applied the decorators
 * and their metadata).
 * A bundled module's __dirname/__filename would be the bundle's; they are rewritten to the
 * module's place in its installed package, found at run time by the package's name, so the
 * files the packages read beside themselves (arch-x86's guests, core's package.json) are still
 * found, in the repository as in an npm install. The stamp written last (stamp.json, see
 * packages/cli/src/bundle/stamp.ts) lets `kvmts` tell a current bundle from an outdated one.
 */
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'packages', 'cli');

class BundleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}

/** The cli package's compiled stamp module (BUNDLE_DIR, BUNDLE_FILES, currentStamp). */
function stampModule() {
  const file = path.join(CLI, 'dist', 'bundle', 'stamp.js');
  if (!fs.existsSync(file)) throw new BundleError(`${file} is missing: run tsc -b first`);
  return require(file);
}

/**
 * Each bundle file (by its name in the stamp module's tables) and the compiled entry it is built
 * from. The vCPU worker is one bundle per arch, each with only its arch's plugin (stamp.ts'
 * WORKER_BUNDLES): a thread's isolate holds its whole bundle's source and parses all of it.
 */
function entries({ BUNDLE_FILES, WORKER_BUNDLES }) {
  const dist = (file) => path.join(CLI, 'dist', 'bundle', file);
  return {
    [BUNDLE_FILES.cli]: dist('cli-entry.js'),
    [WORKER_BUNDLES.x64]: dist('worker-entry-x86_64.js'),
    [WORKER_BUNDLES.arm64]: dist('worker-entry-arm64.js'),
    [BUNDLE_FILES.workerStart]: dist('worker-start.js'),
  };
}

/**
 * A bundle's text with only ASCII characters. V8 keeps a script's whole source as one string
 * for as long as the script lives, and a single non-ASCII character makes that a two-byte string:
 * twice the bundle's size (2.7 MB instead of 1.35 for the worker) in every thread that runs it.
 * esbuild's `charset: 'ascii'` escapes every character of the code itself, so what remains is
 * in the comments it keeps (the '→', '—', '≥' of doc comments): each becomes a '?' there, one
 * character (UTF-16 unit) for one, so that columns, and the source map, stay as they were.
 */
function asciiComments(text) {
  return text.replace(/[^\x00-\x7f]/g, '?');
}

/** The package (name, directory) a file belongs to: the nearest package.json above it. */
function owningPackage(file, cache) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (cache.has(dir)) return cache.get(dir);
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const pkg = { name: JSON.parse(fs.readFileSync(manifest, 'utf8')).name, dir };
      cache.set(dir, pkg);
      return pkg;
    }
  }
  throw new BundleError(`${file} belongs to no package`);
}

/** Defined once at the top of each bundle: a package's installed directory, by name. */
const BANNER = `var __kvmtsPackageDirs = new Map();
function __kvmtsPackagePath(name, rel) {
  var dir = __kvmtsPackageDirs.get(name);
  if (dir === undefined) __kvmtsPackageDirs.set(name, (dir = require("path").dirname(require.resolve(name + "/package.json"))));
  return require("path").join(dir, rel);
}`;

/** commander's Command class, which loads node:child_process at the top. */
const COMMANDER_COMMAND = path.join('commander', 'lib', 'command.js');
const COMMANDER_CHILD_PROCESS = "const childProcess = require('node:child_process');";

/**
 * commander's command.js with node:child_process loaded on its first use. commander spawns only
 * for executable subcommands, which kvmts has none of, yet loading the built-in cost every start
 * tens of ms under an emulated CPU (Node compiles its internal modules from source under
 * `--jitless`). It calls nothing of it but `spawn`. A commander whose source no longer has the
 * line fails the build, so an upgrade cannot silently undo this.
 */
function lazyChildProcess(file, source) {
  if (!source.includes(COMMANDER_CHILD_PROCESS)) throw new BundleError(`${file}: expected the line ${COMMANDER_CHILD_PROCESS} (commander changed: update lazyChildProcess)`);
  const calls = source.match(/\bchildProcess\.\w+/g) ?? [];
  const other = calls.filter((c) => c !== 'childProcess.spawn');
  if (other.length > 0) throw new BundleError(`${file}: calls ${[...new Set(other)].join(', ')}, which lazyChildProcess does not forward`);
  return source.replace(
    COMMANDER_CHILD_PROCESS,
    "let kvmtsChildProcess; const childProcess = { spawn: (...args) => (kvmtsChildProcess ??= require('node:child_process')).spawn(...args) }; // kvmts bundle: loaded on first use (scripts/bundle/build.js)",
  );
}

/** The esbuild plugin: core's worker entry by its private name, module locations kept, commander's child_process lazy. */
function kvmtsPlugin(entryFiles) {
  const entries = new Set(entryFiles);
  const packages = new Map();
  return {
    name: 'kvmts',
    setup(build) {
      build.onResolve({ filter: /^kvmts-bundle:core-vcpu-worker$/ }, () => ({
        path: path.join(path.dirname(require.resolve('@kvmts/core/package.json', { paths: [CLI] })), 'dist', 'machine', 'vcpu-worker.js'),
      }));
      build.onLoad({ filter: /\.js$/ }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        if (args.path.endsWith(COMMANDER_COMMAND)) return { contents: lazyChildProcess(args.path, source), loader: 'js', resolveDir: path.dirname(args.path) };
        if (entries.has(args.path) || !/\b__(dirname|filename)\b/.test(source)) return undefined;
        const pkg = owningPackage(args.path, packages);
        if (!pkg.name) throw new BundleError(`${args.path} uses __dirname but its package has no name`);
        const at = (p) => `__kvmtsPackagePath(${JSON.stringify(pkg.name)}, ${JSON.stringify(path.relative(pkg.dir, p).split(path.sep).join('/'))})`;
        const contents = source.replace(/\b__dirname\b/g, at(path.dirname(args.path))).replace(/\b__filename\b/g, at(args.path));
        return { contents, loader: 'js', resolveDir: path.dirname(args.path) };
      });
    },
  };
}

/** Replaces `file` in one step (write aside, rename): a kvmts starting meanwhile reads the old file or the new one. */
function replaceFile(file, contents) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, contents);
  fs.renameSync(tmp, file);
}

/**
 * Writes V8 code caches for the new bundles (packages/cli/src/bundle/code-cache.ts), for the
 * Node that builds, into `trainDir` where the new bundles are: each is run once there by
 * train-code-cache.js (`kvmts --help` for the CLI, one vCPU thread's start for this host's
 * worker; another arch's worker gets its cache on that arch, at its first use). A cache is keyed
 * by its bundle's bytes and the path it runs from (V8 keeps the script's name in it): each
 * bundle is compiled there under its name in outDir, where the cache will serve it.
 * Returns the caches' file names.
 */
function trainCodeCaches(trainDir, outDir, files) {
  const { spawnSync } = require('child_process');
  const names = [];
  for (const [which, name] of [['cli', files.cli], ['worker', files.worker]]) {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'train-code-cache.js'), which, trainDir], {
      cwd: REPO,
      encoding: 'utf8',
      // The user's cache directory is pointed here: the user's own caches neither serve nor take these.
      env: { ...process.env, KVMTS_CODE_CACHE: 'auto', KVMTS_CODE_CACHE_TRACE: '1', KVMTS_CODE_CACHE_DIR: trainDir, KVMTS_CODE_CACHE_TRAIN_FOR: outDir },
      timeout: 120000,
    });
    const written = new RegExp(`code cache: ${name.replace(/\./g, '\\.')} written (\\S+)$`, 'm').exec(r.stderr);
    if (r.status !== 0 || !written || path.dirname(written[1]) !== trainDir) {
      throw new BundleError(`no code cache was made for ${name} (status ${r.status}): ${r.stderr.trim()}`);
    }
    names.push(path.basename(written[1]));
  }
  return names;
}

/**
 * Builds both bundles and their code caches, then their stamp. Every file is replaced in one step and nothing is
 * removed first, so a build running while kvmts starts (pack.js rebuilds beside a test run)
 * never shows it a missing bundle. The stamp goes last: an interrupted build leaves the old
 * stamp, which still matches only if the packages did not change since — and then the new
 * bundle files were built from the same code. Returns per-output { file, bytes, modules }.
 */
async function buildBundle() {
  const esbuild = require('esbuild');
  const stampTables = stampModule();
  const { BUNDLE_DIR, BUNDLE_FILES, BUNDLE_SCRIPTS, currentStamp } = stampTables;
  const entryFiles = entries(stampTables);
  const outDir = path.join(CLI, BUNDLE_DIR);
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = currentStamp(CLI); // before reading the inputs: a tsc -b meanwhile makes it stale
  const result = await esbuild.build({
    entryPoints: Object.fromEntries(Object.entries(entryFiles).map(([name, file]) => [name.replace(/\.js$/, ''), file])),
    absWorkingDir: REPO,
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'linked',
    // Non-ASCII characters in strings, templates and regular expressions escaped (the rest,
    // in the comments esbuild keeps, by asciiComments): see asciiComments.
    charset: 'ascii',
    // Resolved at run time to find the addon's package (core's timer thread): not bundled.
    external: ['@kvmts/native/package.json'],
    banner: { js: BANNER },
    plugins: [kvmtsPlugin(Object.values(entryFiles))],
    metafile: true,
    logLevel: 'silent',
    write: false,
  });
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
    throw new BundleError(`esbuild warned:\n${text.join('')}`);
  }
  const contents = new Map(result.outputFiles.map((out) => [out.path, out.path.endsWith('.js') ? Buffer.from(asciiComments(out.text), 'latin1') : out.contents]));
  // The code caches are made first, beside copies of the new bundles, and moved in before them:
  // a kvmts starting at any point finds a bundle and, usually, its cache (else it compiles).
  const trainDir = path.join(outDir, `.train-${process.pid}`);
  fs.rmSync(trainDir, { recursive: true, force: true });
  fs.mkdirSync(trainDir);
  let caches;
  try {
    for (const out of result.outputFiles) if (out.path.endsWith('.js')) fs.writeFileSync(path.join(trainDir, path.basename(out.path)), contents.get(out.path));
    caches = trainCodeCaches(trainDir, outDir, BUNDLE_FILES);
    for (const name of caches) fs.renameSync(path.join(trainDir, name), path.join(outDir, name));
  } finally {
    fs.rmSync(trainDir, { recursive: true, force: true });
  }
  for (const out of result.outputFiles) replaceFile(out.path, contents.get(out.path));
  // Each bundle's SHA-256 as written, with its size and mtime: a start takes its code-cache key
  // from here instead of hashing the bundle (packages/cli/src/bundle/code-cache.ts).
  const digests = {};
  for (const name of BUNDLE_SCRIPTS.filter((n) => n !== BUNDLE_FILES.workerStart)) {
    const file = path.join(outDir, name);
    const st = fs.statSync(file);
    digests[name] = { bytes: st.size, mtimeMs: st.mtimeMs, sha256: require('crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
  }
  replaceFile(path.join(outDir, BUNDLE_FILES.stamp), JSON.stringify({ ...stamp, digests }, null, 2) + '\n');
  // Older caches are for bundles that no longer exist, and so are scripts no entry makes now
  // (the single vcpu-worker.js before the per-arch workers).
  const outputs = new Set(result.outputFiles.map((out) => path.basename(out.path)));
  for (const f of fs.readdirSync(outDir)) {
    const stale = f.endsWith('.cache') ? !caches.includes(f) : /\.js(\.map)?$/.test(f) && !outputs.has(f);
    if (stale) fs.rmSync(path.join(outDir, f), { force: true });
  }
  return Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, o]) => ({ file: path.resolve(REPO, file), bytes: o.bytes, modules: Object.keys(o.inputs).length }));
}

module.exports = { buildBundle, BundleError };

if (require.main === module) {
  buildBundle().then(
    (outputs) => {
      for (const o of outputs) process.stdout.write(`bundle: ${path.relative(REPO, o.file)}  ${o.modules} modules, ${(o.bytes / 1024).toFixed(0)} KiB\n`);
    },
    (e) => {
      process.stderr.write(`bundle: ${e instanceof BundleError ? e.message : e.stack}\n`);
      process.exit(1);
    },
  );
}
