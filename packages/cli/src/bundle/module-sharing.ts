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
 * A vCPU worker bundle carries only its arch's packages (./packages/): a package it lacks is
 * loaded from node_modules as for any module outside the bundle, on the bundle's core and tsyringe.
 */
import Module from 'node:module';

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
