/**
 * Runs a bundle file (bundle/kvmts.js, a bundle/vcpu-worker-<arch>.js) as a CommonJS module compiled
 * with V8's code cache, the way v8-compile-cache did (Node 20 has no module.enableCompileCache).
 *
 * Why: V8 compiles lazily, so a plain `require` of the 1.4 MB bundle parses it and then compiles
 * every function the start-up calls, on every start, in every vCPU thread's isolate. A code
 * cache made after a run holds the bytecode of all of them; the next start deserializes it
 * instead. That matters most under the nested tiers' TCG, where compiling costs tens of times
 * more (scripts/bench/README.md, `startup`).
 *
 * A cache is code, so it is only ever used for exactly the bytes it was made from:
 *  - its header carries a key: the SHA-256 of the bundle's bytes, the runtime (Node and V8
 *    versions, CPU architecture) and the bundle's path, compared byte for byte; its file name
 *    carries a short form of them. A bundle rebuilt, another Node, another arch → another key →
 *    the cache is not used (V8's own check compares only the source's length). The path is part
 *    of it because V8 keeps the name of the script that made a cache: two installs of the same
 *    bundle sharing the user's directory would otherwise show the first one's paths in each
 *    other's stack traces — a temporary directory long gone, say;
 *  - the header also carries the CRC-32 of V8's data: a truncated or damaged file is dropped
 *    before V8 sees it (release V8 does not checksum code caches);
 *  - what V8 still refuses (another V8 flag set: `script.cachedDataRejected`) falls back to a
 *    normal compile, silently, and the cache is made again.
 * Either way the program runs the same code with the same output; only the time differs.
 *
 * The bundle's SHA-256 is the build's, from its stamp, while the file is the one it recorded:
 * then no thread hashes anything, and node:crypto (~17 of Node's internal modules, compiled from
 * source under `--jitless`: ~20 ms on the project's x86 host, as long as reading the bundle) is
 * not loaded at all (scripts/bench/README.md, `boot`). zlib's CRC-32 is native and its module
 * small (~3 ms there).
 *
 * Where: the per-user cache directory (KVMTS_CODE_CACHE_DIR, else $XDG_CACHE_HOME/kvmts/code-cache,
 * else ~/.cache/kvmts/code-cache) first, then beside the bundle, where `npm run build` leaves one
 * (same owner and trust as the bundle itself). The build's cache comes from a `kvmts --help` and
 * one idle vCPU thread, so it lacks what a real run compiles later (a machine, its devices); a
 * start that used it therefore writes the user's own cache for its profile (the CLI's command),
 * once: the next starts of that command use that richer one. A user directory is used only when
 * it is the user's own and not writable by others; when it cannot be, a miss writes beside the
 * bundle if that directory is writable. Files are written in one step (write aside, rename): a
 * start meanwhile reads the old file or the new one, never half of one. Of one bundle's and
 * profile's caches in the user directory, the newest two of each context (an install's current
 * build and the one before) and sixteen in all stay (installs and Node versions side by side);
 * older ones are removed.
 *
 * When: the main thread writes when the process exits (so it holds everything the run
 * compiled); a vCPU thread once it has handled its first message (its machine's `build`: the
 * CPU and devices are made then), as its thread may be ended without an exit event.
 *
 * This module loads only Node built-ins and the loaders' own small modules (./stamp.ts,
 * ./startup-trace.ts): it runs before the bundle, in every thread.
 */
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { crc32 } from 'node:zlib';
import { msSinceProcessStart, startupTraced } from './startup-trace';

/**
 * Internal, set by the build only (scripts/bundle/build.js): the directory the bundles it trains
 * caches for will run from. A bundle is compiled under the name it will have there, since that
 * name is what V8 keeps in the cache (and the key holds it). Left set in a shell, every bundle
 * would be compiled under a name in that directory.
 */
export const CODE_CACHE_TRAIN_FOR_ENV = 'KVMTS_CODE_CACHE_TRAIN_FOR';
/** `auto` (default: use and make caches) or `0` (compile normally, read and write nothing). */
export const CODE_CACHE_ENV = 'KVMTS_CODE_CACHE';
/** The per-user cache directory, instead of $XDG_CACHE_HOME/kvmts/code-cache. */
export const CODE_CACHE_DIR_ENV = 'KVMTS_CODE_CACHE_DIR';
export { CODE_CACHE_TRACE_ENV } from './startup-trace';
export { BUNDLE_DIGESTS_KEY } from './stamp';

/**
 * A cache file: MAGIC, the key's length (u16 LE), the key (the bundle's SHA-256, then its
 * context — the runtime id, a newline, the bundle's path — as UTF-8), the CRC-32 of the V8 data
 * (u32 LE), the V8 data. (Older files — KVMTSCC1 keyed and checked by SHA-256, KVMTSCC2 keyed
 * without the path — are simply not matched: their bundle's next start writes a new one.)
 */
const MAGIC = Buffer.from('KVMTSCC3', 'latin1');
const DIGEST_BYTES = 32;
/**
 * Of one bundle's and profile's caches in the user directory, those kept: the newest two per
 * context (an install under one Node: its current build and the one before, for a checkout that
 * switches back), and the newest sixteen in all (installs and Node versions side by side).
 */
const KEEP_PER_CONTEXT = 2;
const KEEP_PER_BUNDLE = 16;

export type CodeCacheSetting = 'auto' | 'off';

/** The setting for a KVMTS_CODE_CACHE value, or an error message naming what is allowed. */
export function codeCacheSetting(value: string | undefined): CodeCacheSetting | { readonly error: string } {
  if (value === undefined || value === '' || value === 'auto' || value === '1') return 'auto';
  if (value === '0') return 'off';
  return { error: `${CODE_CACHE_ENV} must be 'auto' (use V8's code cache for the bundled CLI) or '0' (compile without it), got '${value}'` };
}

/** The runtime part of a cache's context (cacheContext): a cache from another runtime is never read. */
export function runtimeId(): string {
  return `node ${process.version} v8 ${process.versions.v8} ${process.arch}`;
}

/** node:crypto only where a bundle must be hashed (no digest recorded for it): see the header comment. */
const sha256 = (...parts: (Buffer | string)[]): Buffer => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const h = (require('node:crypto') as typeof import('node:crypto')).createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * What a cache must match besides the bundle's bytes: the runtime, and the path the bundle is
 * run from (the name V8 keeps in the cache, and shows in stack traces).
 */
export function cacheContext(bundleFile: string, runtime: string = runtimeId()): string {
  return `${runtime}\n${bundleFile}`;
}

/** The key of `source` (the bundle's bytes, or its text: hashed as UTF-8, the same digest) in `context` (cacheContext). */
export function codeCacheKey(source: Buffer | string, context: string): Buffer {
  return codeCacheKeyOfDigest(sha256(source), context);
}

/** The same key from the source's SHA-256 (`digest`, 32 bytes), when it is known already: the digest, then the context. */
export function codeCacheKeyOfDigest(digest: Buffer, context: string): Buffer {
  if (digest.length !== DIGEST_BYTES) throw new RangeError(`a bundle's SHA-256 is ${DIGEST_BYTES} bytes, not ${digest.length}`);
  return Buffer.concat([digest, Buffer.from(context, 'utf8')]);
}

/** A bundle file's SHA-256 as its build recorded it, with the file's size and mtime then (stamp.ts' BundleDigest). */
export interface RecordedDigest {
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/**
 * The recorded digest of a file whose fstat is `st`, when there is one and the file still has
 * the size and mtime it had when the build recorded it (the build writes each bundle once, by
 * rename, and records it after): a file changed since is hashed again. Anything malformed is
 * no digest.
 */
export function recordedDigest(recorded: RecordedDigest | undefined, st: { readonly size: number; readonly mtimeMs: number }): Buffer | undefined {
  if (recorded === undefined || recorded === null || typeof recorded !== 'object') return undefined;
  if (recorded.bytes !== st.size || recorded.mtimeMs !== st.mtimeMs) return undefined;
  return typeof recorded.sha256 === 'string' && /^[0-9a-f]{64}$/.test(recorded.sha256) ? Buffer.from(recorded.sha256, 'hex') : undefined;
}

/**
 * The cache's file name for `bundleFile` under `key` (two Nodes, or two installs, sharing a
 * directory keep two files), and `profile`: the caches a run writes are per profile (the CLI's
 * command), since a cache holds what its run compiled and `kvmts --help` compiles little of what
 * `kvmts run` does.
 */
export function codeCacheFileName(bundleFile: string, key: Buffer, profile?: string): string {
  // 16 hex digits: the digest's first 8, the context's CRC-32.
  const tag = `${key.subarray(0, 4).toString('hex')}${u32Hex(crc32(key.subarray(DIGEST_BYTES)))}`;
  return `${path.basename(bundleFile)}.${tag}${profile ? `.${profile}` : ''}.cache`;
}

const u32Hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The CLI's commands (program.ts's COMMANDS; program.test.ts checks the names): the only profiles besides `default`. */
export const CLI_COMMAND_PROFILES: ReadonlySet<string> = new Set(['run', 'caps', 'dump', 'boot', 'restore']);

/**
 * The CLI's profile for `argv` (process.argv): its command's name, else `default` — options
 * only, a typo (which must not leave a cache file per misspelling), or a command's --help (which
 * compiles little of what the command runs, and must not become its cache).
 */
export function cliProfile(argv: readonly string[]): string {
  const command = argv[2];
  if (command === undefined || !CLI_COMMAND_PROFILES.has(command)) return 'default';
  return argv.slice(3).some((a) => a === '--help' || a === '-h') ? 'default' : command;
}

/** The per-user cache directory for `env`. */
export function userCodeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[CODE_CACHE_DIR_ENV];
  if (explicit) return path.resolve(explicit);
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'kvmts', 'code-cache');
}

/** A cache file's bytes for `key` and V8's `data`. */
export function encodeCodeCache(key: Buffer, data: Buffer): Buffer {
  const keyLength = Buffer.alloc(2);
  keyLength.writeUInt16LE(key.length);
  const check = Buffer.alloc(4);
  check.writeUInt32LE(crc32(data) >>> 0);
  return Buffer.concat([MAGIC, keyLength, key, check, data]);
}

/** V8's data in a cache file's `bytes` when they are a whole cache for `key`, else undefined. */
export function decodeCodeCache(bytes: Buffer, key: Buffer): Buffer | undefined {
  const keyAt = MAGIC.length + 2;
  const headerBytes = keyAt + key.length + 4;
  if (bytes.length <= headerBytes || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (bytes.readUInt16LE(MAGIC.length) !== key.length || !bytes.subarray(keyAt, keyAt + key.length).equals(key)) return undefined;
  const data = bytes.subarray(headerBytes);
  return crc32(data) >>> 0 === bytes.readUInt32LE(headerBytes - 4) ? data : undefined;
}

/** What happened to a bundle's cache on this start. */
export interface CodeCacheOutcome {
  /** `used`: V8 took the cache; `rejected`: V8 refused it; `miss`: none matched; `off`: KVMTS_CODE_CACHE=0. */
  readonly state: 'used' | 'rejected' | 'miss' | 'off';
  /** The cache file read (used or rejected). */
  readonly file?: string;
}

export interface RunBundleOptions {
  /**
   * When to write the user's cache, if this start did not use it: at process exit (a main
   * thread), once the thread's first message is handled (a vCPU thread), or right after the
   * bundle is evaluated.
   */
  readonly writeAt: 'exit' | 'first-message' | 'evaluated';
  /** The run's profile (cliProfile): the cache it writes and prefers is that profile's. */
  readonly profile?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The build's digests by bundle file name (stamp.json): the key without hashing the bundle's
   * 1.3–1.5 MB on every start in every thread, when the file is still the one the build wrote.
   */
  readonly digests?: Readonly<Record<string, RecordedDigest>>;
}

interface CacheDir {
  readonly dir: string;
  /** The user's directory: made if missing, used only when trusted, pruned. */
  readonly user: boolean;
}

/** The directories, in order of preference: the user's own one, then beside the bundle. */
function cacheDirs(bundleFile: string, env: NodeJS.ProcessEnv): CacheDir[] {
  return [
    { dir: userCodeCacheDir(env), user: true },
    { dir: path.dirname(bundleFile), user: false },
  ];
}

/** A user directory is trusted when it belongs to this user and others cannot write to it. */
function trustedUserDir(dir: string): boolean {
  try {
    const st = fs.statSync(dir);
    return st.isDirectory() && (typeof process.getuid !== 'function' || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * The user's directory can take a cache: it is trusted, or missing and can be made (0700) in its
 * nearest existing ancestor, which must be this user's own — so kvmts run as root with another
 * user's HOME (sudo keeps it) never creates root-owned directories in that user's home.
 */
function userDirUsable(dir: string): boolean {
  if (fs.existsSync(dir)) return trustedUserDir(dir);
  let up = path.dirname(dir);
  while (!fs.existsSync(up) && up !== path.dirname(up)) up = path.dirname(up);
  try {
    fs.accessSync(up, fs.constants.W_OK);
    const st = fs.statSync(up);
    return st.isDirectory() && (typeof process.getuid !== 'function' || st.uid === process.getuid());
  } catch {
    return false;
  }
}

/** The first whole cache for `key` among `names` (each tried in every directory, in order). */
function readCache(dirs: CacheDir[], names: readonly string[], key: Buffer): { file: string; data: Buffer; dir: CacheDir } | undefined {
  for (const [dir, name] of names.flatMap((n) => dirs.map((d) => [d, n] as const))) {
    const file = path.join(dir.dir, name);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      continue;
    }
    if (dir.user && !trustedUserDir(dir.dir)) continue;
    const data = decodeCodeCache(bytes, key);
    if (data !== undefined) return { file, data, dir };
  }
  return undefined;
}

/**
 * Prunes the caches named like `name` (its bundle and profile, any key) in `dir` to the newest
 * KEEP_PER_CONTEXT of each context (the tag's last 8 hex digits) and KEEP_PER_BUNDLE in all
 * (best effort).
 */
function prune(dir: string, name: string): void {
  const TAG = /\.([0-9a-f]{8})([0-9a-f]{8})(\.|$)/;
  const like = (f: string): string => f.replace(TAG, '.*$3');
  try {
    const mine = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.cache') && like(f) === like(name))
      .map((f) => ({ f, context: TAG.exec(f)?.[2], mtime: fs.statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const perContext = new Map<string | undefined, number>();
    let kept = 0;
    for (const { f, context } of mine) {
      const n = (perContext.get(context) ?? 0) + 1;
      perContext.set(context, n);
      if (n <= KEEP_PER_CONTEXT && kept < KEEP_PER_BUNDLE) kept++;
      else fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    // another start pruned meanwhile, or the directory went away: nothing to keep tidy
  }
}

/** Writes the cache to the first directory that takes it; returns its path, or undefined when none did. */
function writeCache(dirs: CacheDir[], name: string, bytes: Buffer): string | undefined {
  for (const { dir, user } of dirs) {
    const file = path.join(dir, name);
    // Unique to this thread of this process (its writes are synchronous) without worker_threads'
    // threadId, which a main-thread start does not load; 'wx' refuses a name already there.
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      if (user) {
        if (!userDirUsable(dir)) continue;
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!trustedUserDir(dir)) continue;
      }
      fs.writeFileSync(tmp, bytes, { mode: 0o644, flag: 'wx' });
      fs.renameSync(tmp, file);
      if (user) prune(dir, name);
      return file;
    } catch {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // never written
      }
    }
  }
  return undefined;
}

/** Node's module-path lookup for `dir` (what a module there gets as module.paths). */
const nodeModulePaths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths;

/**
 * Runs `bundleFile` as a CommonJS module of this thread (its own `require`, `module`,
 * `__filename`, `__dirname`, in the require cache under its file), compiled with its code cache
 * when a matching one is found. Errors of the bundle's evaluation propagate as from `require`.
 */
export function runBundle(bundleFile: string, options: RunBundleOptions): CodeCacheOutcome {
  const env = options.env ?? process.env;
  const t0 = process.hrtime.bigint();
  const setting = codeCacheSetting(env[CODE_CACHE_ENV]);
  const off = setting !== 'auto';
  // Read as text in one step (Node reads a file as UTF-8 without a Buffer in between): a Buffer
  // of the bundle would be garbage the moment it is decoded, and stay resident, 1.3–1.5 MB in
  // every thread, until the thread next collects — for a vCPU thread running a guest, maybe never.
  // The size and mtime from the open file that is then read: the recorded digest is taken for
  // exactly these bytes (a bundle replaced meanwhile is another file, read through another fd).
  const fd = fs.openSync(bundleFile, 'r');
  let source: string;
  let known: Buffer | undefined;
  try {
    known = off ? undefined : recordedDigest(options.digests?.[path.basename(bundleFile)], fs.fstatSync(fd));
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  // The name V8 gives the script, shows in stack traces and keeps in a cache made from it: the
  // bundle's path, or where it will run when the build trains a cache for it.
  const trainFor = env[CODE_CACHE_TRAIN_FOR_ENV];
  const scriptName = trainFor ? path.join(path.resolve(trainFor), path.basename(bundleFile)) : bundleFile;
  const context = cacheContext(scriptName);
  const key = off ? undefined : known ? codeCacheKeyOfDigest(known, context) : codeCacheKey(source, context);
  const dirs = cacheDirs(bundleFile, env);
  // This profile's cache (a run's), else the build's, made without a profile.
  const name = key && codeCacheFileName(bundleFile, key, options.profile);
  const names = key && name ? [...new Set([name, codeCacheFileName(bundleFile, key)])] : [];
  const cached = key ? readCache(dirs, names, key) : undefined;

  const t1 = process.hrtime.bigint();
  const script = new vm.Script(Module.wrap(source), {
    filename: scriptName,
    cachedData: cached?.data,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const outcome: CodeCacheOutcome = off
    ? { state: 'off' }
    : cached === undefined
      ? { state: 'miss' }
      : { state: script.cachedDataRejected ? 'rejected' : 'used', file: cached.file };
  const t2 = process.hrtime.bigint();
  const trace = startupTraced(env) ? (line: string) => process.stderr.write(`kvmts: code cache: ${path.basename(bundleFile)} ${line}\n`) : undefined;
  const ms = (from: bigint, to: bigint): string => (Number(to - from) / 1e6).toFixed(1);
  // Said before evaluating: a program may end the process from its top level (commander's --help).
  const since = (): string => msSinceProcessStart().toFixed(1);
  const keyFrom = off ? '' : known ? "; key from the build's digest" : '; key hashed';
  trace?.(`${outcome.state}${outcome.file ? ` ${outcome.file}` : ''} (read and check ${ms(t0, t1)} ms, compile ${ms(t1, t2)} ms; ${since()} ms after the process started${keyFrom})`);
  if (trace && options.writeAt === 'exit') process.once('exit', () => trace(`process exits ${since()} ms after it started`));

  // After a miss or a refusal: a new cache, to the user's directory or else beside the bundle.
  // After using the build's cache (made without a profile, beside the bundle): the user's own
  // for this profile, once.
  const ownUsed = outcome.state === 'used' && cached!.dir.user && path.basename(cached!.file) === name;
  const targets = off || ownUsed ? [] : outcome.state === 'used' ? (userDirUsable(dirs[0].dir) ? [dirs[0]] : []) : dirs;
  const write = (): void => {
    const file = writeCache(targets, name!, encodeCodeCache(key!, script.createCachedData()));
    trace?.(file ? `written ${file}` : 'not written: no cache directory took it');
  };
  // Only a run that ended well: a command that failed early compiled little of what it runs.
  if (targets.length > 0 && options.writeAt === 'exit') process.once('exit', (code) => {
      if (code === 0) write();
    });

  const mod = new Module(bundleFile);
  mod.filename = bundleFile;
  mod.paths = nodeModulePaths(path.dirname(bundleFile));
  const bundleRequire = createRequire(bundleFile);
  bundleRequire.cache[bundleFile] = mod;
  const wrapper = script.runInThisContext({ displayErrors: true }) as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(mod.exports, mod.exports, bundleRequire, mod, bundleFile, path.dirname(bundleFile));
  mod.loaded = true;
  const t3 = process.hrtime.bigint();
  trace?.(`evaluated in ${ms(t2, t3)} ms (${since()} ms after the process started)`);
  if (targets.length > 0 && options.writeAt !== 'exit') {
    // A vCPU thread's first message is handled by the bundle's listener, registered by now and
    // so run first; the cache is made once that handler is done.
    // worker_threads is loaded in a vCPU thread already; the main thread never asks for 'first-message'.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const parentPort = options.writeAt === 'first-message' ? (require('node:worker_threads') as typeof import('node:worker_threads')).parentPort : null;
    if (parentPort) parentPort.once('message', () => setImmediate(write));
    else write();
  }
  return outcome;
}
