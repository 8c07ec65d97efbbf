/**
 * Test tiers (by file name):
 *   *.test.ts               pure logic, no /dev/kvm            → host tier
 *   *.kvm.test.ts           real x86 KVM (/dev/kvm)           → host tier and/or nested-x86 tier
 *   *.nested-x86.test.ts    only inside the nested x86 host   → nested-x86 tier
 *   *.nested-arm64.test.ts  only inside the nested arm64 host → nested-arm64 tier
 * KVMTS_TIER selects the tier (default: host).
 * KVMTS_KVM_SUITES says which one tier runs the *.kvm.test.ts suites (`host` or `nested-x86`), or
 * `split` on a PVM host (test-support/host-kvm.js): the host tier runs them but for
 * PVM_UNFIT_SUITES, which nested-x86 runs; scripts/test/run-tiers.js sets it so that each runs
 * once per `npm test`, where a KVM that can run it is.
 * Unset (a developer running jest or scripts/nested/run.js by hand), both tiers run them.
 * KVMTS_SKIP_SUITES (comma-separated repo-relative paths) leaves suites out that another tier of
 * the same `npm test` runs instead (run-tiers.js: nested-x86's extra emulated hosts).
 */
const { PVM_UNFIT_SUITES } = require('./test-support/host-kvm');

const tier = process.env.KVMTS_TIER || 'host';
const kvmSuites = process.env.KVMTS_KVM_SUITES || '';
const tierMatch = {
  host: ['**/test/**/*.test.ts'],
  'nested-x86': ['**/test/**/*.kvm.test.ts', '**/test/**/*.nested-x86.test.ts'],
  'nested-arm64': ['**/test/**/*.nested-arm64.test.ts'],
};
if (!tierMatch[tier]) throw new Error(`KVMTS_TIER=${tier}: expected one of ${Object.keys(tierMatch).join(', ')}`);
if (!['', 'host', 'nested-x86', 'split'].includes(kvmSuites)) throw new Error(`KVMTS_KVM_SUITES=${kvmSuites}: expected host, nested-x86 or split`);
const escape = (suite) => `${suite.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
const ignore = ['/node_modules/', '/dist/'];
if (tier === 'host') ignore.push('\\.nested-x86\\.test\\.ts$', '\\.nested-arm64\\.test\\.ts$');
if (kvmSuites === 'split') {
  // The host runs the KVM suites a PVM host can; nested-x86 only the others (a negative lookahead
  // keeps them in: jest ignores a path that any pattern matches).
  const unfit = Object.keys(PVM_UNFIT_SUITES);
  if (tier === 'host') ignore.push(...unfit.map(escape));
  if (tier === 'nested-x86') ignore.push(`^(?!.*(${unfit.map((s) => escape(s).slice(0, -1)).join('|')})$).*\\.kvm\\.test\\.ts$`);
} else if ((tier === 'host' || tier === 'nested-x86') && kvmSuites && kvmSuites !== tier) ignore.push('\\.kvm\\.test\\.ts$');
for (const suite of (process.env.KVMTS_SKIP_SUITES || '').split(',').filter(Boolean)) ignore.push(escape(suite));

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: tierMatch[tier],
  testPathIgnorePatterns: ignore,
  setupFiles: ['reflect-metadata', '<rootDir>/test-support/kvm-gate.js'],
  moduleNameMapper: { '^@kvmts/([a-z0-9-]+)$': '<rootDir>/packages/$1/src' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  // The emulated hosts of the nested tiers run the suites several times slower than a real
  // machine (explicit per-test timeouts still apply). Set here rather than on the guest's
  // command line, so that the host's jest config is the guest's (scripts/nested/lib/jest-warm.js).
  testTimeout: tier === 'host' ? 60000 : 180000,
};
