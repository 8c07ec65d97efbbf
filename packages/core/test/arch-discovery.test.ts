/**
 * Arch discovery in this checkout: looking up one arch looks in kvmts' own scope first and
 * stops at its first declaring package (same answer as the full scan, a few package.json files
 * read instead of hundreds), which `kvmts boot`'s start-up relies on.
 */
import { findInstalledArchPlugins, installedArchModule } from '@kvmts/core';

// The fs module object itself (an `import * as` namespace is a copy whose getters cannot be spied on).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fs = require('node:fs') as typeof import('node:fs');

function packageJsonReads(spy: jest.SpyInstance): number {
  return spy.mock.calls.filter(([file]) => String(file).endsWith('package.json')).length;
}

describe('installed arch plugins', () => {
  it('finds one arch without reading every package.json, and finds what the full scan lists first', () => {
    const spy = jest.spyOn(fs, 'readFileSync');
    const dirSpy = jest.spyOn(fs, 'readdirSync');
    try {
      const arm64 = installedArchModule('arm64');
      const lookupReads = packageJsonReads(spy);
      // One folder listed: node_modules/@kvmts, not node_modules itself (~480 entries) nor its ~40 scopes.
      expect(dirSpy.mock.calls.map(([d]) => String(d))).toEqual([expect.stringMatching(/node_modules\/@kvmts$/)]);
      spy.mockClear();
      const all = findInstalledArchPlugins();
      const scanReads = packageJsonReads(spy);
      expect(arm64).toEqual(all.find((p) => p.arch === 'arm64'));
      expect(arm64).toMatchObject({ arch: 'arm64', packageName: '@kvmts/arch-arm64' });
      // kvmts' own scope is looked in first: only @kvmts packages are read (there are 6), not
      // the ~90 that come before it by name nor the hundreds after it.
      expect(lookupReads).toBeGreaterThan(0);
      expect(lookupReads).toBeLessThanOrEqual(6);
      expect(lookupReads * 50).toBeLessThan(scanReads);
      // Once the full list exists, lookups use it.
      spy.mockClear();
      expect(installedArchModule('x86_64')).toMatchObject({ packageName: '@kvmts/arch-x86' });
      expect(installedArchModule('riscv64')).toBeUndefined();
      expect(packageJsonReads(spy)).toBe(0);
    } finally {
      spy.mockRestore();
      dirSpy.mockRestore();
    }
  });
});
