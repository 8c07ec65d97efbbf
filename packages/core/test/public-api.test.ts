/**
 * Arch packages may import only the public entry points of core and native, so a third party
 * can write an arch package with what core exports. This test reads every source file of the
 * arch and CLI packages and fails on a deep import (a sub-entry a package's exports map lists,
 * such as '@kvmts/dev-gic/v2', is an entry point).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const packagesDir = path.resolve(__dirname, '../..');
const DEEP_IMPORT = /(?:from\s+|require\(\s*|import\(\s*)['"](@kvmts\/[a-z0-9-]+\/[^'"]+|(?:\.\.\/)+(?:core|native|arch-[a-z0-9]+|dev-[a-z0-9]+|cli)\/[^'"]*)['"]/g;

/** `@kvmts/<pkg>/<sub>` is an entry point when the package's exports map lists `./<sub>` (dev-gic's `./v2`). */
function isPublicSubpath(specifier: string): boolean {
  const m = /^@kvmts\/([a-z0-9-]+)\/(.+)$/.exec(specifier);
  const manifest = m && path.join(packagesDir, m[1], 'package.json');
  if (!manifest || !fs.existsSync(manifest)) return false;
  const exportsMap = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports ?? {};
  return Object.hasOwn(exportsMap, `./${m![2]}`) && m![2] !== 'package.json';
}

function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

describe('package boundaries', () => {
  const consumers = fs.readdirSync(packagesDir).filter((p) => p !== 'core' && p !== 'native');

  it('there are packages to check', () => {
    expect(consumers).toEqual(expect.arrayContaining(['arch-x86', 'cli']));
  });

  it.each(consumers)('%s imports @kvmts packages only through their public entry points', (pkg) => {
    const offenders: string[] = [];
    for (const file of [...sources(path.join(packagesDir, pkg, 'src')), ...sources(path.join(packagesDir, pkg, 'test'))]) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(DEEP_IMPORT)) if (!isPublicSubpath(m[1])) offenders.push(`${path.relative(packagesDir, file)}: ${m[1]}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the pattern catches deep imports (self-check)', () => {
    const bad = ["import { X } from '@kvmts/core/src/vm/kvm-vm';", "const y = require('../../core/src/index');", "import('@kvmts/native/dist/binding')"];
    expect(bad.map((s) => [...s.matchAll(DEEP_IMPORT)].length)).toEqual([1, 1, 1]);
    expect([..."import { Kvm } from '@kvmts/core';".matchAll(DEEP_IMPORT)]).toHaveLength(0);
    // A sub-entry the package exports is public; a file path beside it is not.
    expect(['@kvmts/dev-gic/v2', '@kvmts/dev-gic/dist/plugins/v2', '@kvmts/core/package.json', '@kvmts/core/v2'].map(isPublicSubpath)).toEqual([true, false, false, false]);
  });
});
