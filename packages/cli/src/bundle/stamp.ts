/**
 * Which build of the CLI `kvmts` runs: the bundle (one file, built by scripts/bundle/build.js
 * after `tsc -b`) when it is there and current, else the modular program in dist/.
 *
 * "Current" is decided by the bundle's stamp: when the bundle was built it recorded the mtime
 * of every compiled package's tsconfig.tsbuildinfo it was built from. `tsc -b` rewrites a
 * package's tsbuildinfo whenever it emits anything for it (and leaves it alone when the package
 * is up to date), so a developer who edits TypeScript and runs only `tsc -b` changes one of
 * those mtimes and gets the modular program — never an outdated bundle. An installed package
 * ships no tsbuildinfo: an input missing now means "not a development build", and the bundle is
 * what was published. The check costs one small read and a few stats, loading no other module
 * (this runs before anything else in `kvmts`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the bundle's files are, relative to the cli package directory. */
export const BUNDLE_DIR = 'bundle';
/**
 * The vCPU worker bundle for each host (`process.arch`): each carries core and that arch's plugin
 * only (./packages/), so a vCPU thread's isolate does not parse the other arch's. A bundled CLI
 * makes machines of its host's arch (KVM runs no other), so the host picks the worker; a machine
 * that names a plugin its worker lacks still works, loading it from node_modules
 * (./module-sharing.ts). A host arch kvmts has no plugin for gets the x86-64 one.
 */
export const WORKER_BUNDLES: Readonly<Record<string, string>> = { x64: 'vcpu-worker-x86_64.js', arm64: 'vcpu-worker-arm64.js' };

/** The worker bundle a vCPU thread runs on a host whose `process.arch` is `nodeArch`. */
export function workerBundleFor(nodeArch: string): string {
  return WORKER_BUNDLES[nodeArch] ?? WORKER_BUNDLES.x64;
}

/** `workerStart` is what a vCPU thread runs: it loads `worker` (this host's) with its code cache (./code-cache.ts). */
export const BUNDLE_FILES = { cli: 'kvmts.js', worker: workerBundleFor(process.arch), workerStart: 'vcpu-worker-start.js', stamp: 'stamp.json' } as const;

/** Every script of the bundle: the CLI, every arch's worker, the worker's start script. */
export const BUNDLE_SCRIPTS: readonly string[] = [BUNDLE_FILES.cli, ...Object.values(WORKER_BUNDLES), BUNDLE_FILES.workerStart];

/**
 * The compiled packages that go into the bundle, relative to the cli package directory (in the
 * repository and in an npm install alike, the @kvmts packages are siblings). Only native's
 * JavaScript is bundled: its addon is loaded by path at run time, from the package.
 */
export const BUNDLE_INPUT_PACKAGES = ['.', '../native', '../core', '../arch-x86', '../arch-arm64', '../dev-gic'] as const;

/** Each input's build-info file, relative to the cli package directory. */
export const bundleInputs = (): string[] => BUNDLE_INPUT_PACKAGES.map((p) => path.posix.join(p, 'dist', '.tsbuildinfo'));

/** The environment variable that picks the build: `auto` (default), `1` (the bundle or an error), `0` (modular). */
export const BUNDLE_ENV = 'KVMTS_CLI_BUNDLE';

export interface BundleStamp {
  readonly format: 1;
  /** Input build-info file (relative to the cli package) → its mtimeMs when the bundle was built. */
  readonly inputs: Readonly<Record<string, number>>;
  /**
   * Bundle file name → its SHA-256 as the build wrote it, with its size and mtime then: the
   * code-cache key without hashing the bundle again on every start (./code-cache.ts). Absent
   * in a stamp from before them, and a file whose size or mtime differ now is hashed as before.
   */
  readonly digests?: Readonly<Record<string, BundleDigest>>;
}

/** The environment data key under which dist/bin.js passes the stamp's digests to the vCPU threads (./code-cache.ts uses them). */
export const BUNDLE_DIGESTS_KEY = 'kvmts.bundle.digests';

/** A bundle file's SHA-256 (hex) when the build wrote it, and its size and mtimeMs then. */
export interface BundleDigest {
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/** The stamp for the inputs as they are now (scripts/bundle/build.js writes it next to the bundle). */
export function currentStamp(cliDir: string): BundleStamp {
  const inputs: Record<string, number> = {};
  for (const rel of bundleInputs()) inputs[rel] = fs.statSync(path.join(cliDir, rel)).mtimeMs;
  return { format: 1, inputs };
}

/** Why the bundle in `cliDir` cannot be used, or undefined when it is current. */
export function bundleStaleness(cliDir: string): string | undefined {
  return checkBundle(cliDir).stale;
}

/** The bundle's stamp when the bundle is current, else why it is not. */
function checkBundle(cliDir: string): { stale: string; stamp?: undefined } | { stale?: undefined; stamp: BundleStamp } {
  const stale = (why: string) => ({ stale: why });
  const dir = path.join(cliDir, BUNDLE_DIR);
  let stamp: BundleStamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(dir, BUNDLE_FILES.stamp), 'utf8')) as BundleStamp;
  } catch (e) {
    return stale((e as NodeJS.ErrnoException).code === 'ENOENT' ? `no bundle in ${dir} (npm run build makes it)` : `its stamp is unreadable: ${(e as Error).message}`);
  }
  if (stamp?.format !== 1 || typeof stamp.inputs !== 'object' || stamp.inputs === null) return stale(`its stamp ${path.join(dir, BUNDLE_FILES.stamp)} has an unknown format`);
  for (const [rel, mtimeMs] of Object.entries(stamp.inputs)) {
    let now: number;
    try {
      now = fs.statSync(path.join(cliDir, rel)).mtimeMs;
    } catch {
      continue; // an installed package has no build info: the bundle is what was published
    }
    if (now !== mtimeMs) return stale(`${path.join(cliDir, rel)} changed after the bundle was built (tsc -b rebuilt that package; npm run build rebuilds the bundle)`);
  }
  for (const f of BUNDLE_SCRIPTS) {
    if (!fs.existsSync(path.join(dir, f))) return stale(`${path.join(dir, f)} is missing`);
  }
  return { stamp };
}

export type CliBuild =
  | { readonly kind: 'bundle'; readonly file: string; readonly digests?: BundleStamp['digests'] }
  | { readonly kind: 'modular'; readonly why: string }
  | { readonly kind: 'error'; readonly message: string };

/** The build to run for the `KVMTS_CLI_BUNDLE` setting (undefined: auto). */
export function chooseCliBuild(cliDir: string, setting: string | undefined): CliBuild {
  const mode = setting === undefined || setting === '' ? 'auto' : setting;
  if (mode === '0') return { kind: 'modular', why: `${BUNDLE_ENV}=0` };
  if (mode !== 'auto' && mode !== '1') return { kind: 'error', message: `${BUNDLE_ENV} must be 'auto', '1' (the bundled CLI) or '0' (the modular one), got '${setting}'` };
  const { stale, stamp } = checkBundle(cliDir);
  if (stale === undefined) return { kind: 'bundle', file: path.join(cliDir, BUNDLE_DIR, BUNDLE_FILES.cli), ...(stamp.digests ? { digests: stamp.digests } : {}) };
  if (mode === '1') return { kind: 'error', message: `${BUNDLE_ENV}=1 but the bundled CLI cannot be used: ${stale}` };
  return { kind: 'modular', why: stale };
}
