/**
 * Finds installed arch plugins without core naming any: a package declares itself with a
 * `kvmts` field in its package.json, e.g. `"kvmts": { "arch": "x86_64" }`. The node_modules
 * folders searched are those Node itself would search from the working directory, from the
 * program's main module and from core's own location (so a plugin installed next to core is
 * found wherever the program runs). Results are cached per process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface InstalledArchPlugin {
  readonly arch: string;
  /** What to require(): the package's directory (resolves to its main/exports entry). */
  readonly module: string;
  readonly packageName: string;
}

let cache: InstalledArchPlugin[] | undefined;

/** node_modules folders from `dir` up to the filesystem root, nearest first. */
function nodeModulesChain(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (path.basename(d) !== 'node_modules') out.push(path.join(d, 'node_modules'));
    if (path.dirname(d) === d) return out;
  }
}

function readArchDeclaration(packageDir: string): InstalledArchPlugin | undefined {
  let pkg: { name?: unknown; kvmts?: { arch?: unknown } };
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  } catch {
    return undefined; // not a package, or unreadable: not ours to judge
  }
  const arch = pkg.kvmts?.arch;
  if (typeof arch !== 'string' || typeof pkg.name !== 'string') return undefined;
  return { arch, module: fs.realpathSync(packageDir), packageName: pkg.name };
}

/** kvmts' own scope: searched first in each node_modules folder (packagesIn). */
const KVMTS_SCOPE = '@kvmts';

/** The package directories in one scope folder (none when it is missing or unreadable). */
function scopePackages(scopeDir: string): string[] {
  try {
    return fs.readdirSync(scopeDir).filter((s) => !s.startsWith('.')).map((s) => path.join(scopeDir, s));
  } catch {
    return []; // no such scope here, or an unreadable one: it holds nothing we can load
  }
}

/**
 * The package directories in one node_modules folder, kvmts' own scope first, yielded one at a
 * time (a lookup that stops early reads no further folder). Within one folder the order is
 * otherwise the directory's own (not a precedence anyone can rely on), so looking in @kvmts first
 * changes which folder wins in nothing — a nearer folder still does — and it spares a lookup the
 * rest: listing a development checkout's node_modules (~480 entries), its ~40 scope folders and
 * the ~90 package.json files before the arm64 plugin was a noticeable part of `kvmts boot`'s
 * start-up under an emulated CPU (scripts/bench/README.md, `boot`).
 */
function* packagesIn(nodeModules: string): Generator<string> {
  yield* scopePackages(path.join(nodeModules, KVMTS_SCOPE));
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(nodeModules, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === KVMTS_SCOPE) continue;
    const p = path.join(nodeModules, e.name);
    if (e.name.startsWith('@')) yield* scopePackages(p);
    else yield p;
  }
}

/**
 * The installed packages that declare an architecture, first found first (nearest wins), read
 * one package.json at a time: a caller after one arch stops at its first match.
 */
function* scanInstalledArchPlugins(): Generator<InstalledArchPlugin> {
  const roots = [process.cwd(), require.main ? path.dirname(require.main.filename) : undefined, __dirname].filter((d): d is string => d !== undefined);
  const seenDirs = new Set<string>();
  const seenModules = new Set<string>();
  for (const root of roots) {
    for (const nm of nodeModulesChain(root)) {
      if (seenDirs.has(nm)) continue;
      seenDirs.add(nm);
      for (const dir of packagesIn(nm)) {
        const decl = readArchDeclaration(dir);
        if (decl && !seenModules.has(decl.module)) {
          seenModules.add(decl.module);
          yield decl;
        }
      }
    }
  }
}

/** Every installed package that declares an architecture, first found first (nearest wins). */
export function findInstalledArchPlugins(): readonly InstalledArchPlugin[] {
  cache ??= [...scanInstalledArchPlugins()];
  return cache;
}

const firstForArch = new Map<string, InstalledArchPlugin | undefined>();

/**
 * The installed plugin module for `arch`, if any: the first that findInstalledArchPlugins()
 * would list, found without reading the rest of node_modules. A development checkout's
 * node_modules has ~600 packages; reading every package.json was a tenth of `kvmts boot`'s
 * start-up on a real host and more in the emulated one (scripts/bench/README.md, `boot`).
 */
export function installedArchModule(arch: string): InstalledArchPlugin | undefined {
  if (cache) return cache.find((p) => p.arch === arch);
  if (!firstForArch.has(arch)) {
    let hit: InstalledArchPlugin | undefined;
    for (const p of scanInstalledArchPlugins()) {
      if (p.arch === arch) {
        hit = p;
        break;
      }
    }
    firstForArch.set(arch, hit);
  }
  return firstForArch.get(arch);
}

/** The architecture name kvmts uses for a Node `process.arch` value (the CLI's default). */
export function archForHost(nodeArch: string = process.arch): string | undefined {
  const map: Record<string, string> = { x64: 'x86_64', arm64: 'arm64' };
  return map[nodeArch];
}
