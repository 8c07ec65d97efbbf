/**
 * The addon loads on the first call that needs it, not on import: pure code and `--help`
 * work without a build, and a missing build surfaces as NativeLoadError from that call.
 * Each case runs a consumer in a child process (fixtures/lazy-consumer.js) so this process's
 * addon stays loaded for the other suites. "Unavailable" is real: the compiled packages are
 * copied into a temporary node_modules that has no build/ directory.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CONSTANT_NAMES, loadNative } from '../src/binding';
import { ensureDistBuilt, packageDir } from './support/dist';

const repo = path.resolve(packageDir, '..', '..');
const coreDir = path.join(repo, 'packages', 'core');
const fixture = path.join(__dirname, 'fixtures', 'lazy-consumer.js');

interface Attempt {
  value?: string;
  name?: string;
  isNativeLoadError?: boolean;
  message?: string;
}
interface Report {
  addonsAfterImport: string[];
  constants: Attempt;
  open: Attempt;
  run: Attempt;
  addonsAfterCalls: string[];
  direct?: string[];
  stubsStillWork?: boolean;
  constantsMatch?: boolean;
}

function consumeFrom(dir: string): Report {
  return JSON.parse(execFileSync(process.execPath, [fixture, dir], { encoding: 'utf8' })) as Report;
}

/** node_modules with @kvmts/native and @kvmts/core as installed but never built natively. */
function unbuiltInstall(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-unbuilt-'));
  for (const [name, from] of [['native', packageDir], ['core', coreDir]]) {
    const to = path.join(dir, 'node_modules', '@kvmts', name);
    fs.mkdirSync(to, { recursive: true });
    fs.copyFileSync(path.join(from, 'package.json'), path.join(to, 'package.json'));
    fs.cpSync(path.join(from, 'dist'), path.join(to, 'dist'), { recursive: true });
  }
  for (const peer of ['tsyringe', 'reflect-metadata']) {
    fs.symlinkSync(path.join(repo, 'node_modules', peer), path.join(dir, 'node_modules', peer), 'dir');
  }
  return dir;
}

describe('lazy addon loading', () => {
  beforeAll(() => {
    ensureDistBuilt(coreDir); // builds @kvmts/native too (a project reference)
  });

  it('without a build: importing native and core works; each first call throws NativeLoadError naming the path', () => {
    const dir = unbuiltInstall();
    try {
      const report = consumeFrom(dir);
      const missing = path.join(dir, 'node_modules', '@kvmts', 'native', 'build', 'Release', 'kvmts_native.node');
      expect(report.addonsAfterImport).toEqual([]);
      for (const call of [report.constants, report.open, report.run]) {
        expect(call).toMatchObject({ name: 'NativeLoadError', isNativeLoadError: true });
        expect(call.message).toContain(missing);
        expect(call.message).toContain('npm run build:native');
      }
      expect(report.addonsAfterCalls).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a build: importing loads nothing; the first call loads it and swaps in the addon`s own functions', () => {
    const report = consumeFrom(repo);
    expect(report.addonsAfterImport).toEqual([]);
    expect(report.constants.value).toBe(String(loadNative().constants.O_RDWR));
    expect(report.open.value).toMatch(/^\d+$/);
    expect(report.run.value).toBe(String(-os.constants.errno.EBADF));
    expect(report.addonsAfterCalls).toEqual([path.join(packageDir, 'build', 'Release', 'kvmts_native.node')]);
    expect(report.direct).toEqual(['run', 'currentThread', 'kickThread', 'gettid']);
    expect(report.stubsStillWork).toBe(true);
    expect(report.constantsMatch).toBe(true);
  });

  it('the addon exports exactly the constants binding.ts lists', () => {
    expect(Object.keys(loadNative().constants).sort()).toEqual([...CONSTANT_NAMES].sort());
  });
});
