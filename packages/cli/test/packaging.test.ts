/**
 * kvmts as a third party gets it: the packed tarballs, installed with npm in a scratch project
 * outside the monorepo (scripts/pack/scratch-project.js, which caches the install by the
 * tarballs' hash: ~1 min cold, ~25 s warm, mostly npm pack and tsc). Nothing here needs
 * /dev/kvm: running the project's examples does, in packaging.kvm.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface ScratchProject {
  dir: string;
  tarballs: string[];
  cached: boolean;
  packMs: number;
  installMs: number;
}
interface ScratchScript {
  createScratchProject(options: { log: (line: string) => void }): ScratchProject;
  compile(dir: string): { ok: boolean; output: string; files: string[] };
  runExample(dir: string): { status: number | null; stdout: string; stderr: string };
}
// A plain Node script (it is also a command), so it is required rather than imported.
const scratch = require('../../../scripts/pack/scratch-project.js') as ScratchScript;

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = ['native', 'core', 'arch-x86', 'arch-arm64', 'dev-gic', 'cli'];
/** What each arch package declares in its manifest (core finds arch plugins by it). */
const ARCH_DECLARATIONS: Record<string, { arch: string }> = { 'arch-x86': { arch: 'x86_64' }, 'arch-arm64': { arch: 'arm64' } };
const version = (name: string): string => JSON.parse(fs.readFileSync(path.join(REPO, 'packages', name, 'package.json'), 'utf8')).version;

/** Runs node in the scratch project, with no NODE_PATH through which the monorepo could leak. */
function nodeIn(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_PATH;
  return spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8' });
}

/**
 * Evaluates `body` (CommonJS, `return`s a JSON-able value) with node in the scratch project:
 * a real Node resolver, not jest's, from the project's own directory.
 */
function probe(dir: string, body: string): unknown {
  const r = nodeIn(dir, ['-e', `process.stdout.write(JSON.stringify((() => {${body}})()))`]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

/** Entries of a tarball, without npm's `package/` prefix. */
function tarEntries(tarball: string): string[] {
  const r = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
}

describe('kvmts installed from its tarballs in a scratch project', () => {
  let project: ScratchProject;

  beforeAll(() => {
    project = scratch.createScratchProject({ log: (line) => process.stderr.write(`[packaging] ${line}\n`) });
  }, 300_000);

  it('packs each package with only what a consumer needs', () => {
    expect(project.tarballs.map((t) => path.basename(t)).sort()).toEqual(PACKAGES.map((p) => `kvmts-${p}-${version(p)}.tgz`).sort());
    const needs: Record<string, string[]> = {
      native: ['CMakeLists.txt', 'native/addon.cc', 'native/common.h', 'README.md'],
      'arch-x86': ['guests/demo-checksum.S', 'guests/prebuilt/demo-checksum.bin'],
      'arch-arm64': ['README.md'],
      'dev-gic': ['README.md'],
      cli: ['bin/kvmts.js', 'dist/bin.js', 'bundle/kvmts.js', 'bundle/vcpu-worker-x86_64.js', 'bundle/vcpu-worker-arm64.js', 'bundle/vcpu-worker-start.js', 'bundle/stamp.json'],
      core: ['dist/machine/vcpu-worker.js'],
    };
    for (const p of PACKAGES) {
      const entries = tarEntries(project.tarballs.find((t) => path.basename(t).startsWith(`kvmts-${p}-`)) as string);
      expect(entries).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', ...needs[p]]));
      expect(entries.filter((e) => /^(src|test|build)\/|\.map$|\.tsbuildinfo$|tsconfig\.json$/.test(e))).toEqual([]);
    }
  });

  it('installs from the tarballs alone, where the monorepo cannot leak in', () => {
    expect(path.relative(REPO, project.dir).startsWith('..')).toBe(true);
    const resolution = probe(
      project.dir,
      `const fs = require('fs');
       let typescript; try { typescript = require.resolve('typescript'); } catch (e) { typescript = e.code; }
       return { searched: require.resolve.paths('any').filter((d) => fs.existsSync(d)), typescript, core: require.resolve('@kvmts/core') };`,
    );
    expect(resolution).toEqual({
      searched: [path.join(project.dir, 'node_modules')],
      typescript: 'MODULE_NOT_FOUND', // in the monorepo's node_modules, not here
      core: path.join(project.dir, 'node_modules/@kvmts/core/dist/index.js'),
    });
    const lock = JSON.parse(fs.readFileSync(path.join(project.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    for (const p of PACKAGES) {
      expect(lock.packages[`node_modules/@kvmts/${p}`]?.resolved).toBe(`file:tarballs/kvmts-${p}-${version(p)}.tgz`);
    }
    expect(Object.keys(lock.packages).filter((key) => key.includes('@kvmts/'))).toHaveLength(PACKAGES.length);
    expect(fs.existsSync(path.join(project.dir, 'node_modules/@kvmts/native/build/Release/kvmts_native.node'))).toBe(true);
  });

  it('loads every package with require(), and the README example`s imports as ES modules', () => {
    const cjs = nodeIn(project.dir, ['-e', `${PACKAGES.map((p) => `require('@kvmts/${p}');`).join(' ')} process.stdout.write(String(require('@kvmts/native').pageSize()))`]);
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout).toBe('4096');
    const imports = fs
      .readFileSync(path.join(project.dir, 'example.ts'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('import '));
    expect(imports.length).toBeGreaterThan(0);
    const esm = nodeIn(project.dir, ['--input-type=module', '-e', imports.join('\n')]);
    expect(esm.stderr).toBe('');
    expect(esm.status).toBe(0);
  });

  it('refuses deep imports: only the entry points of the exports maps and package.json load', () => {
    const deep = ['@kvmts/core/dist/vm/kvm-vm', ...PACKAGES.map((p) => `@kvmts/${p}/dist/index.js`)];
    const answers = probe(
      project.dir,
      `const attempt = (id) => { try { require(id); return 'loaded'; } catch (e) { return e.code; } };
       const manifest = (p) => require('@kvmts/' + p + '/package.json');
       return { deep: ${JSON.stringify(deep)}.map(attempt), manifests: ${JSON.stringify(PACKAGES)}.map((p) => [manifest(p).name, manifest(p).kvmts ?? null]) };`,
    );
    expect(answers).toEqual({
      deep: deep.map(() => 'ERR_PACKAGE_PATH_NOT_EXPORTED'),
      // core finds arch plugins by this field
      manifests: PACKAGES.map((p) => [`@kvmts/${p}`, ARCH_DECLARATIONS[p] ?? null]),
    });
  });

  it('type-checks the README example and a third-party device against the installed .d.ts files only', () => {
    const result = scratch.compile(project.dir);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
    const fromRepo = result.files.filter((file) => !path.relative(REPO, file).startsWith('..'));
    // The compiler is this checkout's; only its own lib files may come from here.
    expect(fromRepo.filter((file) => !file.startsWith(path.join(REPO, 'node_modules', 'typescript', 'lib')))).toEqual([]);
    expect(result.files).toContain(path.join(project.dir, 'node_modules/@kvmts/core/dist/index.d.ts'));
    expect(fs.existsSync(path.join(project.dir, 'example.js'))).toBe(true);
    expect(fs.existsSync(path.join(project.dir, 'device-example.js'))).toBe(true);
  });

  it('the device package registers its DevicePlugin with the installed core, which it shares', () => {
    const registered = probe(
      project.dir,
      `const { DEVICE_PLUGIN } = require('@kvmts/core'); // loads reflect-metadata, which tsyringe needs first
      const { container } = require('tsyringe');
      const c = container.createChildContainer();
      require('scratch-device').register(c);
      const [plugin] = c.resolveAll(DEVICE_PLUGIN);
      plugin.validate({ port: 0x510 });
      const device = plugin.create({}, { port: 0x510 });
      device.write(0, 1, 0x1a5, 0);
      const deviceCore = require('module').createRequire(require.resolve('scratch-device')).resolve('@kvmts/core');
      return {
        type: plugin.type, placement: plugin.placement({ port: 0x510 }), read: device.read(0, 1, { high: 0 }),
        sameCore: deviceCore === require.resolve('@kvmts/core'),
      };`,
    );
    expect(registered).toEqual({ type: 'scratch-register', placement: { pio: [{ base: 0x510, size: 2 }] }, read: 0xa5, sameCore: true });
  });

  it('installs the kvmts bin, and `kvmts --help` runs', () => {
    const bin = path.join(project.dir, 'node_modules', '.bin', 'kvmts');
    expect(fs.existsSync(bin)).toBe(true);
    const r = spawnSync(bin, ['--help'], { cwd: project.dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kvmts /m);
  });

  it('runs the bundled CLI as installed (no build info ships, so the bundle is current), reading only it besides the launcher', () => {
    const cli = path.join(project.dir, 'node_modules', '@kvmts', 'cli');
    // No code cache ships (it is for one Node): the first start makes the user's, the next uses it.
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-installed-code-cache-'));
    try {
      const env = { ...process.env, KVMTS_CLI_BUNDLE: '1', NODE_DEBUG: 'module', KVMTS_CODE_CACHE_TRACE: '1', KVMTS_CODE_CACHE_DIR: cacheDir };
      const starts = [0, 1].map(() => spawnSync(process.execPath, [path.join(cli, 'bin', 'kvmts.js'), '--help'], { cwd: project.dir, encoding: 'utf8', env }));
      for (const r of starts) {
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/^Usage: kvmts /m);
        const loaded = [...r.stderr.matchAll(/MODULE \d+: load "(.*)" for module/g)].map((m) => m[1]);
        // The launcher, its freshness check, the early vCPU threads' start (none for --help), the
        // start-up trace, the stdio rules and the code-cache loader, which reads bundle/kvmts.js.
        expect(loaded).toEqual(['bin/kvmts.js', 'dist/bin.js', 'dist/bundle/stamp.js', 'dist/bundle/prewarm.js', 'dist/bundle/startup-trace.js', 'dist/stdio.js', 'dist/bundle/code-cache.js'].map((f) => path.join(cli, f)));
      }
      expect(starts[0].stderr).toMatch(/^kvmts: code cache: kvmts\.js miss /m);
      expect(starts[1].stderr).toContain(`kvmts: code cache: kvmts.js used ${cacheDir}/kvmts.js.`);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
