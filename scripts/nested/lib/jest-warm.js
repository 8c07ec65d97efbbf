'use strict';
/**
 * Fills a nested tier's jest transform cache on the host before the emulated hosts boot.
 *
 * With an empty cache, each emulated host spent ~50 s under TCG transpiling the TypeScript
 * sources its first suite loads; ts-jest does the same on the host in a few seconds. Jest keys
 * a cached transform by the file, its content and the project config, so the guest finds these
 * entries when its config is the host's: same repo path (the repo share is mounted there), same
 * cache directory path (guest/init.sh mounts the jest cache share at the host's path), same
 * KVMTS_TIER / KVMTS_KVM_SUITES, same transform options as jest-runtime's for CommonJS. A file
 * the guest transforms differently is simply a cache miss there.
 *
 * Runs in a child process with the repo as its cwd, as jest in the guest does (the cwd is part
 * of the project config).
 */
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { sh } = require('./util');

/** Transforms every file jest would transform under the tier's roots into `cacheDir`. */
function warmJestCache(repo, tierName, cacheDir) {
  const out = sh(process.execPath, [__filename, cacheDir], { cwd: repo, env: { ...process.env, KVMTS_TIER: tierName }, capture: true });
  return Number(out.trim().split('\n').pop());
}

/** Source files under a root, without dependencies and build output. */
function sourcesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return ['node_modules', 'dist', 'build'].includes(e.name) || e.name.startsWith('.') ? [] : sourcesUnder(p);
    return [p];
  });
}

async function child(cacheDirectory) {
  const req = (m) => require(require.resolve(m, { paths: [process.cwd()] }));
  const { readConfigs } = req('jest-config');
  const { createScriptTransformer } = req('@jest/transform');
  const { configs: [config] } = await readConfigs({ $0: 'jest', _: [], cacheDirectory, ci: true }, [process.cwd()]);
  const transformer = await createScriptTransformer(config);
  // jest-runtime's options for a CommonJS require (its defaultTransformOptions).
  const options = {
    isInternalModule: false, instrument: false, supportsDynamicImport: typeof vm.SyntheticModule === 'function',
    supportsExportNamespaceFrom: false, supportsStaticESM: false, supportsTopLevelAwait: false,
  };
  const transformed = (f) => config.transform.some(([pattern]) => new RegExp(pattern).test(f)) && transformer.shouldTransform(f);
  const files = config.roots.flatMap(sourcesUnder).filter((f) => !f.endsWith('.d.ts') && transformed(f));
  for (const f of files) transformer.transform(f, options);
  process.stdout.write(`${files.length}\n`);
}

if (require.main === module) {
  child(process.argv[2]).catch((e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  });
}

module.exports = { warmJestCache };
