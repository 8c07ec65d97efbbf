/**
 * Makes the bundle's copies of the kvmts packages the ones every `require` in the process gets.
 *
 * The bundle carries its own copies of @kvmts/native's JavaScript, @kvmts/core, the known
 * plugins and tsyringe. A module outside it — a third-party plugin found by arch discovery or
 * named in `plugins`, or a known plugin loaded by name through core's plugin loader — would
 * otherwise load second copies from node_modules: other classes (so `instanceof KvmtsError` is
 * false for its errors), other module state, another tsyringe whose @injectable() type
 * information the machine's container never sees. Each bundled package is
 * therefore put into Node's module cache under the file name `require(name)` resolves to from
 * here: Node then hands every requirer the bundle's copy, exactly as it shares one modular copy.
 * The copy is evaluated on first use only (a getter), so an unused plugin costs nothing.
 */
import Module from 'node:module';

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * The packages the bundle shares, each with the literal require() that esbuild bundles (in the
 * modular build these load the installed packages, which is what a test of the table wants).
 * Every entry of the @kvmts packages' `exports` maps is here (bundle.test.ts checks it).
 */
export const BUNDLED_PACKAGES: Readonly<Record<string, () => unknown>> = {
  '@kvmts/native': () => require('@kvmts/native'),
  '@kvmts/core': () => require('@kvmts/core'),
  '@kvmts/core/vcpu-thread-start': () => require('@kvmts/core/vcpu-thread-start'),
  '@kvmts/arch-x86': () => require('@kvmts/arch-x86'),
  '@kvmts/arch-arm64': () => require('@kvmts/arch-arm64'),
  '@kvmts/dev-gic': () => require('@kvmts/dev-gic'),
  '@kvmts/dev-gic/v3-its': () => require('@kvmts/dev-gic/v3-its'),
  '@kvmts/dev-gic/v2': () => require('@kvmts/dev-gic/v2'),
  // One tsyringe per process: @injectable() keeps its type info in a module-level map.
  tsyringe: () => require('tsyringe'),
  'reflect-metadata': () => require('reflect-metadata'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Register `packages` in require.cache under the files their names resolve to from
 * `resolveFrom` (the bundle's own require), or as `resolved` says (name → file, or null for a
 * package that is not installed) when given. A package that does not resolve is not installed:
 * nothing outside the bundle can require it either, so it is skipped. Returns name → file (or
 * null) for every package, to hand to the next thread (resolving reads each package's
 * package.json: ~40 ms a file in an emulated host).
 */
export function shareBundledModules(
  packages: Readonly<Record<string, () => unknown>>,
  resolveFrom: NodeJS.Require = require,
  resolved?: Readonly<Record<string, string | null>>,
): Record<string, string | null> {
  const files: Record<string, string | null> = {};
  for (const [name, load] of Object.entries(packages)) {
    const file = resolved && name in resolved ? resolved[name] : resolveOrNull(resolveFrom, name);
    files[name] = file;
    if (file !== null) resolveFrom.cache[file] = lazyModule(file, load);
  }
  return files;
}

function resolveOrNull(resolveFrom: NodeJS.Require, name: string): string | null {
  try {
    return resolveFrom.resolve(name);
  } catch {
    return null;
  }
}

/** A loaded module whose exports are `load()`'s result, computed on first access. */
function lazyModule(file: string, load: () => unknown): NodeJS.Module {
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  let value: unknown;
  let done = false;
  Object.defineProperty(m, 'exports', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (!done) {
        value = load();
        done = true;
      }
      return value;
    },
    set: (v: unknown) => {
      value = v;
      done = true;
    },
  });
  return m;
}
