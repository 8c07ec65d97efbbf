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

const ENTRIES = {
  cli: path.join(CLI, 'dist', 'bundle', 'cli-entry.js'),
  worker: path.join(CLI, 'dist', 'bundle', 'worker-entry.js'),
};

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

/** The esbuild plugin: core's worker entry by its private name, and module locations kept. */
function kvmtsPlugin() {
  const entries = new Set(Object.values(ENTRIES));
  const packages = new Map();
  return {
    name: 'kvmts',
    setup(build) {
      build.onResolve({ filter: /^kvmts-bundle:core-vcpu-worker$/ }, () => ({
        path: path.join(path.dirname(require.resolve('@kvmts/core/package.json', { paths: [CLI] })), 'dist', 'machine', 'vcpu-worker.js'),
      }));
      build.onLoad({ filter: /\.js$/ }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
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
 * Builds both bundles, then their stamp. Every file is replaced in one step and nothing is
 * removed first, so a build running while kvmts starts (pack.js rebuilds beside a test run)
 * never shows it a missing bundle. The stamp goes last: an interrupted build leaves the old
 * stamp, which still matches only if the packages did not change since — and then the new
 * bundle files were built from the same code. Returns per-output { file, bytes, modules }.
 */
async function buildBundle() {
  const esbuild = require('esbuild');
  const { BUNDLE_DIR, BUNDLE_FILES, currentStamp } = stampModule();
  const outDir = path.join(CLI, BUNDLE_DIR);
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = currentStamp(CLI); // before reading the inputs: a tsc -b meanwhile makes it stale
  const result = await esbuild.build({
    entryPoints: { [BUNDLE_FILES.cli.replace(/\.js$/, '')]: ENTRIES.cli, [BUNDLE_FILES.worker.replace(/\.js$/, '')]: ENTRIES.worker },
    absWorkingDir: REPO,
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'linked',
    // Resolved at run time to find the addon's package (core's timer thread): not bundled.
    external: ['@kvmts/native/package.json'],
    banner: { js: BANNER },
    plugins: [kvmtsPlugin()],
    metafile: true,
    logLevel: 'silent',
    write: false,
  });
  if (result.warnings.length > 0) {
    const text = await esbuild.formatMessages(result.warnings, { kind: 'warning' });
    throw new BundleError(`esbuild warned:\n${text.join('')}`);
  }
  for (const out of result.outputFiles) replaceFile(out.path, out.contents);
  replaceFile(path.join(outDir, BUNDLE_FILES.stamp), JSON.stringify(stamp, null, 2) + '\n');
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
