/**
 * V8's code cache for the bundled CLI (src/bundle/code-cache.ts), host tier: the cache file's
 * key and format on golden values, then runBundle in real child processes on a fixture bundle —
 * a cache is made (the user's, beside the bundle when that cannot be), used (not rejected) on the
 * next start, and a stale, corrupted, foreign or V8-refused one falls back to a normal compile
 * with the same output — and the real bundles: `npm run build` made their caches, `kvmts --help`
 * runs with its own.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  CODE_CACHE_DIR_ENV,
  CODE_CACHE_ENV,
  CODE_CACHE_TRACE_ENV,
  CODE_CACHE_TRAIN_FOR_ENV,
  cacheContext,
  cliProfile,
  codeCacheFileName,
  codeCacheKey,
  codeCacheKeyOfDigest,
  codeCacheSetting,
  decodeCodeCache,
  encodeCodeCache,
  recordedDigest,
  runtimeId,
  type RecordedDigest,
  userCodeCacheDir,
} from '../src/bundle/code-cache';
import { BUNDLE_FILES, WORKER_BUNDLES } from '../src/bundle/stamp';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'packages', 'cli');
const BIN = path.join(CLI, 'dist', 'bin.js');
const BUNDLE = path.join(CLI, 'bundle');
// The compiled loader, as dist/bin.js and the bundled worker start use it.
const LOADER = path.join(CLI, 'dist', 'bundle', 'code-cache.js');

describe('the cache key and file', () => {
  it('keys a cache by SHA-256 of the bundle`s bytes, the runtime and the bundle`s path (golden), so a same-length edit is another key', () => {
    const source = Buffer.from('module.exports = 1;\n');
    const x64 = cacheContext('/x/kvmts.js', 'node v20.0.0 v8 11.3 x64');
    expect(x64).toBe('node v20.0.0 v8 11.3 x64\n/x/kvmts.js');
    const key = codeCacheKey(source, x64);
    // sha256(source) ‖ the context; the name: the digest's first 4 bytes, the context's CRC-32
    // (both computed independently: Python hashlib and zlib).
    expect(key.toString('hex')).toBe('6e66e366f0aefb84ad8110afcd9b2245702c643c831edf8316ff048fec739d2e' + Buffer.from(x64).toString('hex'));
    expect(codeCacheFileName('/x/kvmts.js', key)).toBe('kvmts.js.6e66e36621d40cce.cache');
    expect(codeCacheFileName('/x/kvmts.js', key, 'run')).toBe('kvmts.js.6e66e36621d40cce.run.cache');
    const arm64 = cacheContext('/x/kvmts.js', 'node v20.0.0 v8 11.3 arm64');
    expect(codeCacheFileName('/x/kvmts.js', codeCacheKey(source, arm64))).toBe('kvmts.js.6e66e3666445657f.cache');
    // Another install of the same bundle: another key and file (V8 keeps the path that made a cache).
    const elsewhere = cacheContext('/y/kvmts.js', 'node v20.0.0 v8 11.3 x64');
    expect(codeCacheFileName('/y/kvmts.js', codeCacheKey(source, elsewhere))).toBe('kvmts.js.6e66e366ce1667f0.cache');
    expect(codeCacheKey(Buffer.from('module.exports = 2;\n'), x64).equals(key)).toBe(false);
    expect(codeCacheKey(source, arm64).equals(key)).toBe(false);
    expect(codeCacheKey(source, elsewhere).equals(key)).toBe(false);
    expect(runtimeId()).toBe(`node ${process.version} v8 ${process.versions.v8} ${process.arch}`);
    expect(cacheContext('/x/kvmts.js')).toBe(`${runtimeId()}\n/x/kvmts.js`);
  });

  it('takes the same key from a digest the build recorded, only while the file has the size and mtime recorded with it', () => {
    const source = Buffer.from('module.exports = 1;\n');
    const digest = '2b2bbc7e6b0a5a4b7e8ba48e14e4a06ebe0cc7b3c3b4e95a1b2de1e1e5a6d7c8'; // any 64 hex digits
    const context = cacheContext('/x/kvmts.js', 'node v20.0.0 v8 11.3 x64');
    expect(codeCacheKeyOfDigest(createHash('sha256').update(source).digest(), context).equals(codeCacheKey(source, context))).toBe(true);
    expect(() => codeCacheKeyOfDigest(Buffer.alloc(31), context)).toThrow(RangeError);
    const recorded = { bytes: 20, mtimeMs: 1796218374533.6824, sha256: digest };
    expect(recordedDigest(recorded, { size: 20, mtimeMs: 1796218374533.6824 })?.toString('hex')).toBe(digest);
    expect(recordedDigest(recorded, { size: 21, mtimeMs: 1796218374533.6824 })).toBeUndefined();
    expect(recordedDigest(recorded, { size: 20, mtimeMs: 1796218374533.6825 })).toBeUndefined();
    expect(recordedDigest(undefined, { size: 20, mtimeMs: 1 })).toBeUndefined();
    expect(recordedDigest({ ...recorded, sha256: 'abc' }, { size: 20, mtimeMs: 1796218374533.6824 })).toBeUndefined();
    expect(recordedDigest({ ...recorded, sha256: digest.toUpperCase() }, { size: 20, mtimeMs: 1796218374533.6824 })).toBeUndefined();
  });

  it('gives V8 the data of a whole cache for its key only: not of another key, magic, length or content', () => {
    const context = cacheContext('/x/kvmts.js');
    const key = codeCacheKey(Buffer.from('a'), context);
    const data = Buffer.from('V8 code cache bytes, any');
    const file = encodeCodeCache(key, data);
    expect(file.subarray(0, 8).toString('latin1')).toBe('KVMTSCC3');
    expect(file.readUInt16LE(8)).toBe(key.length);
    expect(file.length).toBe(8 + 2 + key.length + 4 + data.length);
    // The CRC-32 of the data (zlib's, golden: Python zlib.crc32), before the data.
    expect(file.readUInt32LE(10 + key.length)).toBe(0x96ccd1c5);
    expect(decodeCodeCache(file, key)).toEqual(data);
    expect(decodeCodeCache(file, codeCacheKey(Buffer.from('b'), context))).toBeUndefined();
    expect(decodeCodeCache(file.subarray(0, file.length - 1), key)).toBeUndefined();
    expect(decodeCodeCache(file.subarray(0, 10 + key.length + 4), key)).toBeUndefined();
    // A key of another runtime or path, even one that differs only in its length.
    expect(decodeCodeCache(file, codeCacheKeyOfDigest(key.subarray(0, 32), `${context} `))).toBeUndefined();
    expect(decodeCodeCache(file, codeCacheKeyOfDigest(key.subarray(0, 32), cacheContext('/y/kvmts.js')))).toBeUndefined();
    const flipped = Buffer.from(file);
    flipped[flipped.length - 3] ^= 0x01;
    expect(decodeCodeCache(flipped, key)).toBeUndefined();
    const magic = Buffer.from(file);
    magic[0] = 0x6b;
    expect(decodeCodeCache(magic, key)).toBeUndefined();
  });

  it('names the CLI`s profile by its command, else default', () => {
    expect(cliProfile(['node', 'bin.js', 'run', '--prebuilt'])).toBe('run');
    expect(cliProfile(['node', 'bin.js', 'boot', '--kernel', 'k'])).toBe('boot');
    const odd = [[], ['node', 'bin.js'], ['node', 'bin.js', '--help'], ['node', 'bin.js', '../x'], ['node', 'bin.js', 'Run'], ['node', 'bin.js', 'rn'], ['node', 'bin.js', 'boot-bench'], ['node', 'bin.js', 'run', '--help'], ['node', 'bin.js', 'boot', '-h']];
    for (const argv of odd) {
      expect(cliProfile(argv)).toBe('default');
    }
  });

  it('reads KVMTS_CODE_CACHE as auto or 0, naming what is allowed otherwise', () => {
    for (const v of [undefined, '', 'auto', '1']) expect(codeCacheSetting(v)).toBe('auto');
    expect(codeCacheSetting('0')).toBe('off');
    expect(codeCacheSetting('yes')).toEqual({ error: "KVMTS_CODE_CACHE must be 'auto' (use V8's code cache for the bundled CLI) or '0' (compile without it), got 'yes'" });
  });

  it('puts the user`s caches in KVMTS_CODE_CACHE_DIR, else $XDG_CACHE_HOME (absolute only), else ~/.cache', () => {
    expect(userCodeCacheDir({ [CODE_CACHE_DIR_ENV]: '/c/d', XDG_CACHE_HOME: '/x' })).toBe('/c/d');
    expect(userCodeCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/kvmts/code-cache');
    expect(userCodeCacheDir({ XDG_CACHE_HOME: 'relative' })).toBe(path.join(os.homedir(), '.cache', 'kvmts', 'code-cache'));
    expect(userCodeCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'kvmts', 'code-cache'));
  });
});

describe('runBundle, on a fixture bundle in a child process', () => {
  let root: string;
  let dir: string;
  let userDir: string;
  let bundle: string;
  const SOURCE = [
    "const path = require('path');",
    'function square(n) { return n * n; }',
    'module.exports = { square };',
    'process.stdout.write(`fixture ${path.basename(__filename)} ${path.basename(__dirname)} ${square(7)} ${module.exports.square === square}\\n`);',
    '',
  ].join('\n');

  beforeAll(() => expect(fs.existsSync(LOADER)).toBe(true)); // tsc -b (npm run build) made it
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-code-cache-'));
    dir = path.join(root, 'bundle');
    userDir = path.join(root, 'user');
    fs.mkdirSync(dir);
    bundle = path.join(dir, 'fixture.js');
    fs.writeFileSync(bundle, SOURCE);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Runs the fixture through runBundle; `trace` is the loader's stderr lines, paths relative to root. */
  function start(opts: { nodeArgs?: string[]; env?: Record<string, string>; writeAt?: 'exit' | 'evaluated'; profile?: string; digests?: Record<string, RecordedDigest> } = {}) {
    const writeAt = opts.writeAt ?? 'exit';
    const script = `const r = require(${JSON.stringify(LOADER)}).runBundle(${JSON.stringify(bundle)}, { writeAt: ${JSON.stringify(writeAt)}, profile: ${JSON.stringify(opts.profile)}, digests: ${JSON.stringify(opts.digests)} });
process.stderr.write('outcome ' + r.state + '\\n');`;
    const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, [CODE_CACHE_TRACE_ENV]: '1', [CODE_CACHE_DIR_ENV]: userDir, [CODE_CACHE_ENV]: 'auto', ...opts.env },
      timeout: 30_000,
    });
    return { status: r.status, stdout: r.stdout, trace: normalize(r.stderr), lines: r.stderr.split('\n') };
  }
  /** Trace lines without their timings (the exit line is checked once, below), paths relative to root. */
  const normalize = (stderr: string): string[] =>
    stderr
      .split('\n')
      .filter((l) => l !== '' && !/ process exits [\d.]+ ms after it started$/.test(l))
      .map((l) =>
        l
          .split(root)
          .join('<root>')
          .replace(/ \(read and check [\d.]+ ms, compile [\d.]+ ms; [\d.]+ ms after the process started(; key hashed)?\)$/, '')
          .replace(/ \(read and check [\d.]+ ms, compile [\d.]+ ms; [\d.]+ ms after the process started; key from the build's digest\)$/, ' (digest)')
          .replace(/ evaluated in [\d.]+ ms \([\d.]+ ms after the process started\)$/, ' evaluated'),
      );
  const cacheName = (profile?: string) => codeCacheFileName(bundle, codeCacheKey(fs.readFileSync(bundle), cacheContext(bundle)), profile);
  const caches = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.endsWith('.js')).sort() : []);
  const OUT = 'fixture fixture.js bundle 49 true\n';
  const T = 'kvmts: code cache: fixture.js';

  it('makes the user`s cache at exit after a miss (its directory 0700), then uses it (not rejected) and writes nothing, with the same output', () => {
    const { lines, ...first } = start();
    expect(lines).toContainEqual(expect.stringMatching(/^kvmts: code cache: fixture\.js process exits [\d.]+ ms after it started$/));
    expect(first).toEqual({ status: 0, stdout: OUT, trace: [`${T} miss`, `${T} evaluated`, 'outcome miss', `${T} written <root>/user/${cacheName()}`] });
    expect(fs.statSync(userDir).mode & 0o777).toBe(0o700);
    expect(caches(userDir)).toEqual([cacheName()]); // no temporary left
    expect(caches(dir)).toEqual([]);
    const { lines: _, ...second } = start();
    expect(second).toEqual({ status: 0, stdout: OUT, trace: [`${T} used <root>/user/${cacheName()}`, `${T} evaluated`, 'outcome used'] });
  });

  it('uses the build`s cache beside the bundle, and the first start makes the user`s own (richer) one, used from then on', () => {
    start({ env: { [CODE_CACHE_DIR_ENV]: dir } }); // what the build does: the bundle directory as the cache directory
    expect(caches(dir)).toEqual([cacheName()]);
    expect(start().trace).toEqual([`${T} used <root>/bundle/${cacheName()}`, `${T} evaluated`, 'outcome used', `${T} written <root>/user/${cacheName()}`]);
    expect(start().trace).toEqual([`${T} used <root>/user/${cacheName()}`, `${T} evaluated`, 'outcome used']);
  });

  it('keeps a cache per profile (the CLI`s command), starting from the build`s', () => {
    start({ env: { [CODE_CACHE_DIR_ENV]: dir } });
    expect(start({ profile: 'run' }).trace).toEqual([`${T} used <root>/bundle/${cacheName()}`, `${T} evaluated`, 'outcome used', `${T} written <root>/user/${cacheName('run')}`]);
    expect(start({ profile: 'boot' }).trace.at(-1)).toBe(`${T} written <root>/user/${cacheName('boot')}`);
    expect(start({ profile: 'run' }).trace).toEqual([`${T} used <root>/user/${cacheName('run')}`, `${T} evaluated`, 'outcome used']);
    expect(caches(userDir)).toEqual([cacheName('boot'), cacheName('run')].sort());
  });

  it('neither reads nor writes a user directory that others can write to: the cache goes beside the bundle, once', () => {
    start();
    fs.chmodSync(userDir, 0o777);
    expect(start().trace).toEqual([`${T} miss`, `${T} evaluated`, 'outcome miss', `${T} written <root>/bundle/${cacheName()}`]);
    expect(start().trace).toEqual([`${T} used <root>/bundle/${cacheName()}`, `${T} evaluated`, 'outcome used']);
  });

  it('writes beside the bundle when the user directory cannot be made', () => {
    fs.writeFileSync(path.join(root, 'file'), '');
    const env = { [CODE_CACHE_DIR_ENV]: path.join(root, 'file', 'cache') };
    expect(start({ env }).trace.at(-1)).toBe(`${T} written <root>/bundle/${cacheName()}`);
    expect(start({ env }).trace).toEqual([`${T} used <root>/bundle/${cacheName()}`, `${T} evaluated`, 'outcome used']);
  });

  /** Old caches of the fixture in the user directory, named by `tags` (16 hex digits each), older than any new one, oldest first. */
  const oldCaches = (tags: string[], profile = ''): string[] => {
    fs.mkdirSync(userDir, { recursive: true, mode: 0o700 });
    return tags.map((tag, i) => {
      const f = `fixture.js.${tag}${profile}.cache`;
      fs.writeFileSync(path.join(userDir, f), 'old');
      const t = new Date(Date.now() - (100 - i) * 60_000);
      fs.utimesSync(path.join(userDir, f), t, t);
      return f;
    });
  };

  it('keeps the newest two caches of each context (the key`s runtime and path) in the user directory, and other bundles` and profiles` caches', () => {
    const context = cacheName().slice('fixture.js.'.length + 8, 'fixture.js.'.length + 16);
    // Three older builds of this install, two of another install, and caches that are not this one's to prune.
    const mineBefore = oldCaches(['00000001', '00000002', '00000003'].map((d) => d + context));
    const elsewhere = oldCaches(['00000004', '00000005'].map((d) => `${d}aaaaaaaa`));
    const otherProfile = oldCaches([`00000006${context}`], '.run');
    fs.writeFileSync(path.join(userDir, 'other.js.0000000000000000.cache'), 'old');
    start();
    expect(caches(userDir)).toEqual([cacheName(), mineBefore[2], ...elsewhere, ...otherProfile, 'other.js.0000000000000000.cache'].sort());
  });

  it('keeps sixteen caches of a bundle and profile in all: installs and Node versions side by side, the oldest go', () => {
    const others = oldCaches(Array.from({ length: 17 }, (_, i) => `0000000${(i % 16).toString(16)}${(0xb0000000 + i).toString(16)}`));
    start();
    expect(caches(userDir)).toEqual([cacheName(), ...others.slice(-15)].sort());
  });

  it('writes a cache right after evaluation when asked to (a thread that may end without an exit event)', () => {
    expect(start({ writeAt: 'evaluated' }).trace).toEqual([`${T} miss`, `${T} evaluated`, `${T} written <root>/user/${cacheName()}`, 'outcome miss']);
  });

  it('in a vCPU thread, writes the cache once the thread has handled its first message, not before', async () => {
    const code = `require(${JSON.stringify(LOADER)}).runBundle(${JSON.stringify(bundle)}, { writeAt: 'first-message' });`;
    const worker = new Worker(code, { eval: true, stdout: true, stderr: true, env: { ...process.env, [CODE_CACHE_TRACE_ENV]: '1', [CODE_CACHE_DIR_ENV]: userDir, [CODE_CACHE_ENV]: 'auto' } });
    let stderr = '';
    worker.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    for (const t0 = Date.now(); !stderr.includes('evaluated') && Date.now() - t0 < 20_000; ) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(caches(userDir)).toEqual([]);
    const exited = new Promise<number>((resolve) => worker.on('exit', resolve));
    worker.postMessage('build');
    expect(await exited).toBe(0); // its only listener was the loader's: the thread ends after it
    expect(normalize(stderr)).toEqual([`${T} miss`, `${T} evaluated`, `${T} written <root>/user/${cacheName()}`]);
    expect(caches(userDir)).toEqual([cacheName()]);
  }, 30_000);

  it('takes the key from the build`s digest while the bundle is the file it was made from, else hashes it', () => {
    const st = fs.statSync(bundle);
    const digests = { 'fixture.js': { bytes: st.size, mtimeMs: st.mtimeMs, sha256: createHash('sha256').update(SOURCE).digest('hex') } };
    start();
    // The same key as a hashed start's: the cache it made is used.
    expect(start({ digests }).trace).toEqual([`${T} used <root>/user/${cacheName()} (digest)`, `${T} evaluated`, 'outcome used']);
    // Rewritten (same length, a later mtime): the recorded digest no longer applies, the file is hashed.
    fs.writeFileSync(bundle, SOURCE.replace('square(7)', 'square(8)'));
    fs.utimesSync(bundle, new Date(st.mtimeMs + 5000), new Date(st.mtimeMs + 5000));
    const r = start({ digests });
    expect(r.stdout).toBe('fixture fixture.js bundle 64 true\n');
    expect(r.trace[0]).toBe(`${T} miss`);
  });

  it('never runs stale code: a same-length edit of the bundle misses the old cache and prints the new output', () => {
    start();
    const old = cacheName();
    fs.writeFileSync(bundle, SOURCE.replace('square(7)', 'square(8)'));
    expect(fs.statSync(bundle).size).toBe(SOURCE.length);
    const r = start();
    expect(r.stdout).toBe('fixture fixture.js bundle 64 true\n');
    expect(r.trace[0]).toBe(`${T} miss`);
    expect(caches(userDir)).toEqual([old, cacheName()].sort());
  });

  it('drops a corrupted cache before V8 sees it (a flipped byte, a truncated file): same output, made again', () => {
    start();
    const file = path.join(userDir, cacheName());
    const good = fs.readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10] ^= 0xff;
    for (const bad of [flipped, good.subarray(0, good.length - 100), Buffer.alloc(0)]) {
      fs.writeFileSync(file, bad);
      const r = start();
      expect(r).toMatchObject({ status: 0, stdout: OUT });
      expect(r.trace[0]).toBe(`${T} miss`);
      expect(r.trace.at(-1)).toBe(`${T} written <root>/user/${cacheName()}`);
      expect(start().trace[0]).toBe(`${T} used <root>/user/${cacheName()}`);
    }
  });

  it('never reads a cache keyed for another runtime, even under this runtime`s file name', () => {
    start();
    const file = path.join(userDir, cacheName());
    const data = decodeCodeCache(fs.readFileSync(file), codeCacheKey(fs.readFileSync(bundle), cacheContext(bundle)))!;
    fs.writeFileSync(file, encodeCodeCache(codeCacheKey(fs.readFileSync(bundle), cacheContext(bundle, 'node v18.0.0 v8 10.2 arm64')), data));
    const r = start();
    expect(r).toMatchObject({ status: 0, stdout: OUT });
    expect(r.trace[0]).toBe(`${T} miss`);
  });

  it('falls back silently when V8 refuses a cache (made under other V8 flags), and makes it again for these', () => {
    start({ nodeArgs: ['--max-lazy'] });
    const r = start();
    expect(r).toMatchObject({ status: 0, stdout: OUT });
    expect(r.trace).toEqual([`${T} rejected <root>/user/${cacheName()}`, `${T} evaluated`, 'outcome rejected', `${T} written <root>/user/${cacheName()}`]);
    expect(start().trace[0]).toBe(`${T} used <root>/user/${cacheName()}`);
  });

  it('reads and writes nothing with KVMTS_CODE_CACHE=0', () => {
    const { lines: _, ...r } = start({ env: { [CODE_CACHE_ENV]: '0' } });
    expect(r).toEqual({ status: 0, stdout: OUT, trace: [`${T} off`, `${T} evaluated`, 'outcome off'] });
    expect(caches(userDir)).toEqual([]);
    expect(caches(dir)).toEqual([]);
  });

  /**
   * V8 keeps the name of the script that made a cache, and a script compiled with it takes that
   * name (Node 20): in stack traces, and in any cache made from it after. So a cache serves only
   * the path it was made for, and the build's, trained beside a copy, is made under the real one.
   */
  describe('the bundle`s own path in stack traces, whichever cache ran', () => {
    const STACK_SOURCE = "function where() { return new Error('here').stack.split('\\n')[1].trim(); }\nprocess.stdout.write(where() + '\\n');\n";
    /** The bundle at `file` run through runBundle with the fixture's user directory: its trace and the file its frame named. */
    const runAt = (file: string, env: Record<string, string> = {}) => {
      const script = `require(${JSON.stringify(LOADER)}).runBundle(${JSON.stringify(file)}, { writeAt: 'exit' });`;
      const r = spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        env: { ...process.env, [CODE_CACHE_TRACE_ENV]: '1', [CODE_CACHE_DIR_ENV]: userDir, [CODE_CACHE_ENV]: 'auto', ...env },
        timeout: 30_000,
      });
      expect(r.status).toBe(0);
      // The file of the frame `at where (<file>:<line>:<column>)`.
      return { frame: r.stdout.trim().replace(/^at where \((.*):\d+:\d+\)$/, '$1'), trace: normalize(r.stderr) };
    };
    /** The same bundle bytes installed at a second path. */
    const secondInstall = (): string => {
      const other = path.join(root, 'other');
      fs.mkdirSync(other);
      fs.writeFileSync(path.join(other, 'fixture.js'), STACK_SOURCE);
      return path.join(other, 'fixture.js');
    };

    it('two installs of one bundle sharing the user`s directory keep a cache each, each naming its own path', () => {
      fs.writeFileSync(bundle, STACK_SOURCE);
      const other = secondInstall();
      expect(runAt(bundle)).toEqual({ frame: bundle, trace: [`${T} miss`, `${T} evaluated`, `${T} written <root>/user/${cacheName()}`] });
      // The same bytes elsewhere: not the first install's cache (its frames would name <root>/bundle).
      const first = runAt(other);
      expect(first.frame).toBe(other);
      expect(first.trace[0]).toBe(`${T} miss`);
      const again = runAt(other);
      expect(again.frame).toBe(other);
      expect(again.trace[0]).toMatch(/^kvmts: code cache: fixture\.js used <root>\/user\/fixture\.js\.[0-9a-f]{16}\.cache$/);
      expect(runAt(bundle).frame).toBe(bundle);
      expect(caches(userDir)).toHaveLength(2);
    });

    it('a cache trained for another directory (the build`s) serves the bundle there, under that name', () => {
      fs.writeFileSync(bundle, STACK_SOURCE);
      const other = secondInstall();
      // Trained from <root>/bundle for <root>/other: compiled under the other name already.
      expect(runAt(bundle, { [CODE_CACHE_TRAIN_FOR_ENV]: path.dirname(other) }).frame).toBe(other);
      const served = runAt(other);
      expect(served.trace[0]).toMatch(/^kvmts: code cache: fixture\.js used /);
      expect(served.frame).toBe(other);
    });
  });

  it('lets an error of the bundle propagate as from require, naming the bundle`s file and line', () => {
    fs.writeFileSync(bundle, "'use strict';\nthrow new RangeError('fixture failed');\n");
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(LOADER)}).runBundle(${JSON.stringify(bundle)}, { writeAt: 'exit' })`], {
      encoding: 'utf8',
      env: { ...process.env, [CODE_CACHE_DIR_ENV]: userDir },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('RangeError: fixture failed');
    expect(r.stderr).toContain(`${bundle}:2`);
  });
});

describe('the kvmts bundles', () => {
  let userDir: string;
  beforeEach(() => (userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-code-cache-user-'))));
  afterEach(() => fs.rmSync(userDir, { recursive: true, force: true }));
  const kvmts = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, KVMTS_CLI_BUNDLE: '1', [CODE_CACHE_TRACE_ENV]: '1', [CODE_CACHE_DIR_ENV]: userDir, ...env },
      timeout: 60_000,
    });

  it('have their caches beside them, made by npm run build for this Node, and `kvmts --help` uses its own', () => {
    // This host's worker only: another arch's worker gets its cache on that arch.
    for (const f of [BUNDLE_FILES.cli, BUNDLE_FILES.worker]) {
      const file = path.join(BUNDLE, f);
      const key = codeCacheKey(fs.readFileSync(file), cacheContext(file));
      expect(decodeCodeCache(fs.readFileSync(path.join(BUNDLE, codeCacheFileName(file, key))), key)?.length).toBeGreaterThan(10_000);
    }
    const used = kvmts(['--help'], { [CODE_CACHE_ENV]: 'auto' });
    const off = kvmts(['--help'], { [CODE_CACHE_ENV]: '0' });
    expect(used.stderr).toMatch(new RegExp(`^kvmts: code cache: kvmts\\.js used ${BUNDLE}/kvmts\\.js\\.[0-9a-f]{16}\\.cache \\(.*; key from the build's digest\\)$`, 'm'));
    // The build recorded each bundle's real digest, size and mtime.
    const stamp = JSON.parse(fs.readFileSync(path.join(BUNDLE, BUNDLE_FILES.stamp), 'utf8')) as { digests: Record<string, RecordedDigest> };
    for (const f of [BUNDLE_FILES.cli, ...Object.values(WORKER_BUNDLES)]) {
      const st = fs.statSync(path.join(BUNDLE, f));
      expect(stamp.digests[f]).toEqual({ bytes: st.size, mtimeMs: st.mtimeMs, sha256: createHash('sha256').update(fs.readFileSync(path.join(BUNDLE, f))).digest('hex') });
    }
    expect(off.stderr).toMatch(/^kvmts: code cache: kvmts\.js off /);
    expect(used.status).toBe(0);
    expect(used.stdout).toBe(off.stdout);
    expect(used.stdout).toMatch(/^Usage: kvmts/);
  });

  it('refuses a bad KVMTS_CODE_CACHE by name', () => {
    const r = kvmts(['--help'], { [CODE_CACHE_ENV]: 'yes' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("kvmts: KVMTS_CODE_CACHE must be 'auto' (use V8's code cache for the bundled CLI) or '0' (compile without it), got 'yes'\n");
  });
});
