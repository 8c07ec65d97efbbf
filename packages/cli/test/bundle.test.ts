/**
 * The bundled CLI, host tier: the build makes it, `kvmts` runs it (and only it: counted with
 * NODE_DEBUG=module), it answers as the modular CLI does, a third-party plugin gets the bundle's
 * core and tsyringe, the bundled vCPU worker loads alone, and an outdated bundle is never run.
 * The bundled CLI running guests is cli.kvm / dump.kvm / bundle.kvm in the KVM tier.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker, setEnvironmentData } from 'node:worker_threads';
import { BUNDLE_ENV, BUNDLE_FILES, BUNDLE_SCRIPTS, WORKER_BUNDLES, bundleInputs, bundleStaleness, chooseCliBuild, currentStamp, workerBundleFor } from '../src/bundle/stamp';
import { BUNDLED_PACKAGES } from '../src/bundle/shared-modules';
import { X86_64_PACKAGES } from '../src/bundle/packages/x86_64';
import { ARM64_PACKAGES } from '../src/bundle/packages/arm64';
import { BUNDLE_DIGESTS_KEY } from '../src/bundle/code-cache';
import { SHARED_FILES_BUFFER_KEY, publishSharedFiles } from '../src/bundle/prewarm';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'packages', 'cli');
const BIN = path.join(CLI, 'dist', 'bin.js');
const BUNDLE = path.join(CLI, 'bundle');

/** `kvmts args` with KVMTS_CLI_BUNDLE=`build` and NODE_DEBUG=module; `loaded` lists the files Node loaded (every thread). */
function kvmts(build: '0' | '1', args: string[], cwd = REPO): SpawnSyncReturns<string> & { loaded: string[]; stderrText: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, [BUNDLE_ENV]: build, NODE_DEBUG: 'module' }, timeout: 60000 });
  const lines = r.stderr.split('\n');
  const loaded = lines.map((l) => /^MODULE \d+: load "(.*)" for module/.exec(l)?.[1]).filter((f): f is string => f !== undefined);
  return { ...r, loaded, stderrText: lines.filter((l) => !l.startsWith('MODULE ')).join('\n') };
}

beforeAll(() => {
  // npm run build makes the bundle; a developer who ran only tsc -b gets it made here.
  if (bundleStaleness(CLI) !== undefined) {
    const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'bundle', 'build.js')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }
}, 120_000);

describe('the bundle', () => {
  it('is made by the normal build, right after tsc -b, and is current', () => {
    const build = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build;
    expect(build).toMatch(/^tsc -b && .*node scripts\/bundle\/build\.js$/);
    expect(bundleStaleness(CLI)).toBeUndefined();
    const stamp = JSON.parse(fs.readFileSync(path.join(BUNDLE, BUNDLE_FILES.stamp), 'utf8')) as { inputs: Record<string, number> };
    expect(Object.keys(stamp.inputs).sort()).toEqual(['../arch-arm64/dist/.tsbuildinfo', '../arch-x86/dist/.tsbuildinfo', '../core/dist/.tsbuildinfo', '../dev-gic/dist/.tsbuildinfo', '../native/dist/.tsbuildinfo', 'dist/.tsbuildinfo']);
  });

  it('is ASCII throughout, so V8 holds each bundle as a one-byte string (half the memory), and still names its errors as the sources do', () => {
    for (const f of BUNDLE_SCRIPTS) {
      const bytes = fs.readFileSync(path.join(BUNDLE, f));
      expect([f, bytes.findIndex((b) => b > 0x7f)]).toEqual([f, -1]);
    }
    // A message with a non-ASCII character in the source (core's '0–256') is escaped in the bundle, not lost.
    // A worker-thread boot: the vCPU thread pool reads KVMTS_VCPU_POOL (a one-vCPU boot on the main thread never does).
    const r = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--arch', 'arm64', '--vcpu-thread', 'worker'], { encoding: 'utf8', env: { ...process.env, [BUNDLE_ENV]: '1', KVMTS_VCPU_POOL: 'x' } });
    expect(r.stderr.trim()).toBe('kvmts: ConfigError: KVMTS_VCPU_POOL: must be a whole number of idle vCPU threads to keep, 0–256, got "x"');
  });

    it('stays usable while it is rebuilt (pack.js rebuilds it beside the other suites)', async () => {
    const build = spawn(process.execPath, [path.join(REPO, 'scripts', 'bundle', 'build.js')], { stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => build.on('close', resolve));
    let finished = false;
    void done.then(() => (finished = true));
    const seen = new Set<string>();
    let checks = 0;
    while (!finished) {
      seen.add(bundleStaleness(CLI) ?? 'current');
      checks++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(await done).toBe(0);
    expect(checks).toBeGreaterThan(10);
    expect([...seen]).toEqual(['current']);
  }, 120_000);

  it('runs `kvmts --help` from one file, with the modular CLI`s exact output', () => {
    const bundled = kvmts('1', ['--help']);
    const modular = kvmts('0', ['--help']);
    expect(bundled.status).toBe(0);
    expect(bundled.stdout).toBe(modular.stdout);
    expect(bundled.stdout).toMatch(/^Usage: kvmts \[options\] \[command\]/);
    // The launcher, its freshness check, the early vCPU threads' start (none for --help) and the
    // start-up trace, its code-cache loader (which reads the bundle itself, code-cache.test.ts):
    // no other module file is read from disk.
    const loaders = ['stamp.js', 'prewarm.js', 'startup-trace.js'].map((f) => path.join(CLI, 'dist', 'bundle', f));
    expect(bundled.loaded).toEqual([BIN, ...loaders, path.join(CLI, 'dist', 'stdio.js'), path.join(CLI, 'dist', 'bundle', 'code-cache.js')]);
    expect(modular.loaded.length).toBeGreaterThan(100);
  });

  it('reports a typed error as the modular CLI does, reading only the native addon besides itself', () => {
    // `boot` of a missing kernel: the arm64 and x86 plugins are loaded by arch discovery first.
    const args = ['boot', '--arch', 'x86_64', '--kernel', '/nonexistent/kernel'];
    const bundled = kvmts('1', args);
    const modular = kvmts('0', args);
    expect(bundled.status).toBe(1);
    expect(bundled.stderrText).toBe(modular.stderrText);
    expect(bundled.stderrText).toMatch(/^kvmts: ConfigError: --kernel: cannot read \/nonexistent\/kernel: ENOENT/);
    // Besides the loaders: core's early thread start (bin.js started this boot's vCPU thread).
    const loaders = [...['stamp.js', 'prewarm.js', 'startup-trace.js', 'code-cache.js'].map((f) => path.join(CLI, 'dist', 'bundle', f)), path.join(CLI, 'dist', 'stdio.js'), path.join(REPO, 'packages', 'core', 'dist', 'machine', 'vcpu-thread-start.js'), path.join(REPO, 'packages', 'core', 'dist', 'machine', 'gc-flag-lock.js'), BIN];
    expect(bundled.loaded.filter((f) => !f.startsWith(BUNDLE) && !f.endsWith('.node') && !loaders.includes(f))).toEqual([]);
  });

  it('starts a command without node:child_process (commander loads it on first use only in the bundle), nor worker_threads or perf_hooks (core loads them on first use), the modular CLI as a control', () => {
    const hook = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-builtins-')), 'hook.js');
    // Printed at exit: the built-ins this process loaded.
    fs.writeFileSync(hook, "process.on('exit', () => process.stderr.write(`BUILTINS ${JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')))}\\n`));\n");
    const builtins = (build: '0' | '1'): string[] => {
      const r = spawnSync(process.execPath, ['--require', hook, BIN, 'boot', '--arch', 'arm64', '--kernel', '/nonexistent/kernel'], { encoding: 'utf8', env: { ...process.env, [BUNDLE_ENV]: build }, timeout: 60000 });
      expect(r.stderr).toMatch(/kvmts: ConfigError: --kernel: cannot read \/nonexistent\/kernel: ENOENT/);
      return JSON.parse(/^BUILTINS (.*)$/m.exec(r.stderr)![1]) as string[];
    };
    try {
      const bundled = builtins('1');
      expect(bundled).not.toContain('NativeModule child_process');
      // Core is evaluated by now (the bundle's top level): none of its modules imports these at its top.
      expect(bundled).not.toContain('NativeModule worker_threads');
      expect(bundled).not.toContain('NativeModule perf_hooks');
      expect(builtins('0')).toContain('NativeModule child_process');
    } finally {
      fs.rmSync(path.dirname(hook), { recursive: true, force: true });
    }
  });

  it('has one vCPU worker per arch, each with core and only its own arch`s plugin; the host picks its own', () => {
    expect(Object.keys(X86_64_PACKAGES).sort()).toEqual(['@kvmts/arch-x86', '@kvmts/core', '@kvmts/core/vcpu-thread-start', '@kvmts/native', 'reflect-metadata', 'tsyringe']);
    expect(Object.keys(ARM64_PACKAGES).sort()).toEqual(['@kvmts/arch-arm64', '@kvmts/core', '@kvmts/core/vcpu-thread-start', '@kvmts/dev-gic', '@kvmts/dev-gic/v2', '@kvmts/dev-gic/v3-its', '@kvmts/native', 'reflect-metadata', 'tsyringe']);
    // The bundles themselves: each arch's CPU class is in its own worker and in no other.
    const text = (f: string): string => fs.readFileSync(path.join(BUNDLE, f), 'latin1');
    const x86 = text(WORKER_BUNDLES.x64);
    const arm64 = text(WORKER_BUNDLES.arm64);
    expect([/class X86KvmCPU\b/.test(x86), /class ArmV8KvmCPU\b/.test(x86)]).toEqual([true, false]);
    expect([/class ArmV8KvmCPU\b/.test(arm64), /class X86KvmCPU\b/.test(arm64)]).toEqual([true, false]);
    expect(/class X86KvmCPU\b/.test(text(BUNDLE_FILES.cli)) && /class ArmV8KvmCPU\b/.test(text(BUNDLE_FILES.cli))).toBe(true);
    expect([workerBundleFor('x64'), workerBundleFor('arm64'), workerBundleFor('riscv64')]).toEqual(['vcpu-worker-x86_64.js', 'vcpu-worker-arm64.js', 'vcpu-worker-x86_64.js']);
    expect(BUNDLE_FILES.worker).toBe(workerBundleFor(process.arch));
    // The single worker of earlier builds is gone from the bundle directory.
    expect(fs.existsSync(path.join(BUNDLE, 'vcpu-worker.js'))).toBe(false);
  });

  it.each(Object.entries(WORKER_BUNDLES))('has a %s worker bundle that starts on its own and answers its machine`s calls (%s)', async (_arch, file) => {
    // Started directly (not through the start script, which picks this host's): its whole module
    // graph is there, and core's worker entry runs and answers a call with "serves no vCPU".
    const worker = new Worker(path.join(BUNDLE, file), { stdout: true, stderr: true });
    try {
      const answer = new Promise<{ ev: string; id: number; error?: { message: string } }>((resolve, reject) => {
        worker.on('message', resolve);
        worker.on('error', reject);
      });
      worker.postMessage({ op: 'call', id: 7, method: 'dump', args: [] });
      await expect(answer).resolves.toMatchObject({ ev: 'result', id: 7, error: { message: expect.stringContaining('this vCPU thread serves no vCPU') } });
    } finally {
      await worker.terminate();
    }
  }, 30_000);

  it('shares every entry point of the @kvmts packages (their exports maps), tsyringe and reflect-metadata', () => {
    const entries: string[] = [];
    for (const p of ['native', 'core', 'arch-x86', 'arch-arm64', 'dev-gic']) {
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'packages', p, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
      for (const sub of Object.keys(pkg.exports)) if (sub !== './package.json') entries.push(path.posix.join(pkg.name, sub));
    }
    expect(Object.keys(BUNDLED_PACKAGES).sort()).toEqual([...entries, 'reflect-metadata', 'tsyringe'].sort());
  });

  it.each(['resolves the shared packages itself', 'is handed the resolved files'])('has a vCPU worker that starts in a thread reading no module file but itself, not even the native addon until it builds a vCPU (%s)', async (how) => {
    // The bundled CLI hands its thread's resolved files to its vCPU threads (a buffer in their environment data).
    const handed = how === 'is handed the resolved files';
    const buffer = new SharedArrayBuffer(64 * 1024);
    if (handed) expect(publishSharedFiles(buffer, Object.fromEntries(Object.keys(BUNDLED_PACKAGES).map((name) => [name, null])))).toBe(true);
    setEnvironmentData(SHARED_FILES_BUFFER_KEY, buffer);
    // And the build's digests (dist/bin.js hands on its stamp's): the thread does not hash its bundle.
    const stamp = JSON.parse(fs.readFileSync(path.join(BUNDLE, BUNDLE_FILES.stamp), 'utf8')) as { digests?: Record<string, { bytes: number; mtimeMs: number; sha256: string }> };
    setEnvironmentData(BUNDLE_DIGESTS_KEY, handed ? stamp.digests : undefined);
    // The script the CLI's vCPU threads start: it runs the worker bundle with its code cache.
    const worker = new Worker(path.join(BUNDLE, BUNDLE_FILES.workerStart), { stdout: true, stderr: true, env: { ...process.env, NODE_DEBUG: 'module', KVMTS_CODE_CACHE_TRACE: '1' } });
    setEnvironmentData(SHARED_FILES_BUFFER_KEY, undefined);
    setEnvironmentData(BUNDLE_DIGESTS_KEY, undefined);
    let stderr = '';
    worker.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let failed: Error | undefined;
    worker.on('error', (e) => (failed = e));
    // The worker evaluates its bundle (this host's), then waits for its machine's 'build' message.
    const evaluated = new RegExp(`code cache: ${BUNDLE_FILES.worker.replace(/\./g, '\\.')} evaluated`);
    for (const t0 = Date.now(); !evaluated.test(stderr) && failed === undefined && Date.now() - t0 < 20_000; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Had it not evaluated by now, what follows would check an empty log.
    expect(stderr).toMatch(evaluated);
    await new Promise((resolve) => setTimeout(resolve, 200)); // anything it would load after that
    // The packages are shared when the machine's first message comes (a thread that serves no
    // vCPU answers 'exit' with nothing); what that resolves is logged by then.
    worker.postMessage({ op: 'exit' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await worker.terminate();
    expect(failed).toBeUndefined();
    const loaded = [...stderr.matchAll(/MODULE \d+: load "(.*)" for module/g)].map((m) => m[1]);
    expect(loaded[0]).toBe(path.join(BUNDLE, BUNDLE_FILES.workerStart));
    const worker$ = BUNDLE_FILES.worker.replace(/\./g, '\\.');
    expect(stderr).toMatch(new RegExp(`^kvmts: code cache: ${worker$} (used|miss|rejected)`, 'm'));
    expect(stderr).toMatch(new RegExp(`^kvmts: code cache: ${worker$} .*; key ${handed ? "from the build's digest" : 'hashed'}\\)$`, 'm'));
    // Not even the native addon: it loads with the first vCPU the thread builds. A thread started
    // ahead of need must not be inside the addon's registration when a program that refused its
    // command line exits (Node then aborts the process: FATAL ERROR … napi_throw).
    expect(loaded.slice(1)).toEqual([]);
    const lookedFor = [...stderr.matchAll(/MODULE \d+: looking for "([^"]+)"/g)].map((m) => m[1]);
    if (handed) expect(lookedFor.filter((name) => name in BUNDLED_PACKAGES)).toEqual([]);
    else expect(lookedFor).toEqual(expect.arrayContaining(['@kvmts/core', 'tsyringe']));
  }, 30_000);
});

describe('a third-party plugin under the bundled CLI', () => {
  let project: string;
  beforeAll(() => {
    // Inside the repository (its node_modules has @kvmts/core and tsyringe, as an install would),
    // in git-ignored .cache; `kvmts` runs from there, so arch discovery finds the plugin first.
    fs.mkdirSync(path.join(REPO, '.cache'), { recursive: true });
    project = fs.mkdtempSync(path.join(REPO, '.cache', 'bundle-test-'));
    fs.cpSync(path.join(__dirname, 'fixtures', 'third-party-arch'), path.join(project, 'node_modules', 'kvmts-fixture-arch'), { recursive: true });
  });
  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  it.each(['1', '0'] as const)('gets the CLI`s core and tsyringe (KVMTS_CLI_BUNDLE=%s): found by its token, its ConfigError a KvmtsError to the CLI', (build) => {
    const kernel = path.join(project, 'kernel');
    fs.writeFileSync(kernel, Buffer.alloc(16));
    const r = kvmts(build, ['boot', '--arch', 'fixture', '--kernel', kernel], project);
    expect(r.stderrText).toBe("kvmts: ConfigError: fixture: linuxBoot refused; the container is this plugin's tsyringe's\n");
    expect(r.status).toBe(1);
    const plugin = fs.realpathSync(path.join(project, 'node_modules', 'kvmts-fixture-arch', 'index.js'));
    expect(r.loaded).toContain(plugin);
    // Bundled, the plugin's require('@kvmts/core') and require('tsyringe') load no file: they are
    // the bundle's (core's early thread start, read by bin.js before the bundle, aside).
    // (it and the one module it loads, the --expose-gc flag lock it shares with the threads).
    const earlyStart = ['vcpu-thread-start.js', 'gc-flag-lock.js'].map((f) => path.join(REPO, 'packages', 'core', 'dist', 'machine', f));
    if (build === '1') expect(r.loaded.filter((f) => f.includes(`${path.sep}dist${path.sep}`) && !f.startsWith(path.join(CLI, 'dist')) && !earlyStart.includes(f))).toEqual([]);
  });
});

describe('shareBundledModules', () => {
  it('puts a module`s copy into the require cache under its resolved file, evaluated on first require only', () => {
    // In a child node: jest's require is not Node's, and the cache is Node's.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-share-'));
    try {
      fs.writeFileSync(path.join(dir, 'pkg.js'), "module.exports = 'the file on disk';");
      fs.writeFileSync(path.join(dir, 'given.js'), "module.exports = 'the file on disk';");
      const script = `
        const { shareBundledModules } = require(${JSON.stringify(path.join(CLI, 'dist', 'bundle', 'shared-modules.js'))});
        const nodeRequire = require('node:module').createRequire(${JSON.stringify(path.join(dir, 'main.js'))});
        let loads = 0;
        const copy = { from: 'the bundle' };
        const shared = shareBundledModules({ './pkg.js': () => (loads++, copy), './missing.js': () => 'never' }, nodeRequire);
        // Given the files (as a vCPU thread is), it resolves nothing itself.
        const other = { marker: 'given' };
        const given = shareBundledModules({ './elsewhere.js': () => other }, nodeRequire, { './elsewhere.js': ${JSON.stringify(path.join(dir, 'given.js'))} });
        const byGiven = require(${JSON.stringify(path.join(dir, 'given.js'))}) === other;
        const before = loads;
        const first = nodeRequire('./pkg.js');
        const byPath = require(${JSON.stringify(path.join(dir, 'pkg.js'))});
        process.stdout.write(JSON.stringify({ shared, given, byGiven, before, first: first === copy, byPath: byPath === copy, loads }));`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      // What does not resolve is not installed: skipped. Both requires get the copy, made once.
      expect(JSON.parse(r.stdout)).toEqual({
        shared: { './pkg.js': path.join(dir, 'pkg.js'), './missing.js': null }, given: { './elsewhere.js': path.join(dir, 'given.js') }, byGiven: true,
        before: 0, first: true, byPath: true, loads: 1,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('never an outdated bundle', () => {
  let root: string;
  let cli: string;
  beforeEach(() => {
    // A layout like the repository's (and an npm install's): the cli package beside the others.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-stamp-'));
    cli = path.join(root, 'cli');
    for (const rel of bundleInputs()) {
      fs.mkdirSync(path.dirname(path.join(cli, rel)), { recursive: true });
      fs.writeFileSync(path.join(cli, rel), '{}');
    }
    fs.mkdirSync(path.join(cli, 'bundle'));
    for (const f of BUNDLE_SCRIPTS) fs.writeFileSync(path.join(cli, 'bundle', f), '');
    fs.writeFileSync(path.join(cli, 'bundle', BUNDLE_FILES.stamp), JSON.stringify(currentStamp(cli)));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const touch = (rel: string) => {
    const t = new Date(fs.statSync(path.join(cli, rel)).mtimeMs + 1000);
    fs.utimesSync(path.join(cli, rel), t, t);
  };

  it('runs a current bundle by default and with KVMTS_CLI_BUNDLE=1; 0 runs the modular CLI', () => {
    const bundle = { kind: 'bundle', file: path.join(cli, 'bundle', 'kvmts.js') };
    expect(chooseCliBuild(cli, undefined)).toEqual(bundle);
    expect(chooseCliBuild(cli, '')).toEqual(bundle);
    expect(chooseCliBuild(cli, 'auto')).toEqual(bundle);
    expect(chooseCliBuild(cli, '1')).toEqual(bundle);
    expect(chooseCliBuild(cli, '0')).toEqual({ kind: 'modular', why: 'KVMTS_CLI_BUNDLE=0' });
  });

  it.each(bundleInputs())('falls back to the modular CLI once tsc -b has rewritten %s, and =1 says why', (rel) => {
    touch(rel);
    const why = `${path.join(cli, rel)} changed after the bundle was built (tsc -b rebuilt that package; npm run build rebuilds the bundle)`;
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why });
    expect(chooseCliBuild(cli, '1')).toEqual({ kind: 'error', message: `KVMTS_CLI_BUNDLE=1 but the bundled CLI cannot be used: ${why}` });
  });

  it('uses an installed bundle, whose package ships no build info', () => {
    for (const rel of bundleInputs()) fs.rmSync(path.join(cli, rel));
    expect(chooseCliBuild(cli, undefined).kind).toBe('bundle');
  });

  it('refuses a missing bundle, a missing worker, a stamp of another format and a bad setting, each by name', () => {
    fs.rmSync(path.join(cli, 'bundle', BUNDLE_FILES.workerStart));
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why: `${path.join(cli, 'bundle', 'vcpu-worker-start.js')} is missing` });
    // Every arch's worker must be there (a package is published from one host for all).
    fs.rmSync(path.join(cli, 'bundle', WORKER_BUNDLES.arm64));
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why: `${path.join(cli, 'bundle', 'vcpu-worker-arm64.js')} is missing` });
    fs.rmSync(path.join(cli, 'bundle', WORKER_BUNDLES.x64));
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why: `${path.join(cli, 'bundle', 'vcpu-worker-x86_64.js')} is missing` });
    fs.writeFileSync(path.join(cli, 'bundle', BUNDLE_FILES.stamp), '{"format":2}');
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why: `its stamp ${path.join(cli, 'bundle', 'stamp.json')} has an unknown format` });
    fs.rmSync(path.join(cli, 'bundle'), { recursive: true });
    expect(chooseCliBuild(cli, undefined)).toEqual({ kind: 'modular', why: `no bundle in ${path.join(cli, 'bundle')} (npm run build makes it)` });
    expect(chooseCliBuild(cli, 'yes')).toEqual({ kind: 'error', message: "KVMTS_CLI_BUNDLE must be 'auto', '1' (the bundled CLI) or '0' (the modular one), got 'yes'" });
  });

  it('rests on tsc -b rewriting a package`s tsbuildinfo when it emits, and only then (a real tsc -b)', () => {
    const proj = path.join(root, 'proj');
    fs.mkdirSync(path.join(proj, 'src'), { recursive: true });
    fs.writeFileSync(path.join(proj, 'tsconfig.json'), JSON.stringify({ extends: path.join(REPO, 'tsconfig.base.json'), compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo', types: [] }, include: ['src'] }));
    fs.writeFileSync(path.join(proj, 'src', 'a.ts'), 'export const a = 1;\n');
    const tsc = () => {
      const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', proj], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      return fs.statSync(path.join(proj, 'dist', '.tsbuildinfo')).mtimeMs;
    };
    const first = tsc();
    expect(tsc()).toBe(first); // up to date: left alone
    fs.writeFileSync(path.join(proj, 'src', 'a.ts'), 'export const a = 2;\n');
    const t = new Date(first + 2000);
    fs.utimesSync(path.join(proj, 'src', 'a.ts'), t, t);
    expect(tsc()).not.toBe(first); // an edit: rewritten
  }, 60_000);
});
