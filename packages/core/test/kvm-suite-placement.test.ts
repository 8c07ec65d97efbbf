/**
 * Where the *.kvm.test.ts suites run (jest.config.js, test-support/host-kvm.js): with
 * KVMTS_KVM_SUITES=split (a PVM host) every KVM suite runs exactly once — in the host tier, or,
 * for the PVM_UNFIT_SUITES, in nested-x86 — and the placement of `host` and `nested-x86` is
 * unchanged. Read from jest's own --listTests with the repository's config.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PVM_UNFIT_SUITES, hostKvm } = require(path.join(REPO, 'test-support', 'host-kvm.js')) as {
  PVM_UNFIT_SUITES: Record<string, string>;
  hostKvm(path?: string): { kind: string; why?: string };
};

function listed(tier: string, kvmSuites: string): string[] {
  const r = spawnSync(process.execPath, [require.resolve('jest/bin/jest', { paths: [REPO] }), '--listTests', '--json'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, KVMTS_TIER: tier, KVMTS_KVM_SUITES: kvmSuites, KVMTS_SKIP_SUITES: '' },
    timeout: 60_000,
  });
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout) as string[]).map((f) => path.relative(REPO, f)).sort();
}

const isKvmSuite = (f: string) => f.endsWith('.kvm.test.ts');

describe('placing the KVM suites', () => {
  it('splits them on a PVM host: the unfit ones in nested-x86 only, every other one on the host only', () => {
    const unfit = Object.keys(PVM_UNFIT_SUITES).sort();
    const allKvm = listed('nested-x86', '').filter(isKvmSuite);
    // Every suite the list names exists (a renamed suite would otherwise run on PVM and fail).
    expect(allKvm).toEqual(expect.arrayContaining(unfit));
    const host = listed('host', 'split').filter(isKvmSuite);
    const nested = listed('nested-x86', 'split');
    expect(nested.filter(isKvmSuite)).toEqual(unfit);
    expect(host).toEqual(allKvm.filter((f) => !unfit.includes(f)));
    // nested-x86's own suites stay where they were.
    expect(nested.filter((f) => !isKvmSuite(f))).toEqual(listed('nested-x86', 'host').filter((f) => !isKvmSuite(f)));
    // Each reason says what PVM lacks.
    for (const suite of unfit) expect(PVM_UNFIT_SUITES[suite].length).toBeGreaterThan(20);
  });

  it('keeps them whole in one tier for host and nested-x86', () => {
    expect(listed('host', 'nested-x86').filter(isKvmSuite)).toEqual([]);
    expect(listed('nested-x86', 'host').filter(isKvmSuite)).toEqual([]);
    expect(listed('host', 'host').filter(isKvmSuite)).toEqual(listed('nested-x86', 'nested-x86').filter(isKvmSuite));
  });

  it('tells a KVM that does not open, and takes an override', () => {
    const before = process.env.KVMTS_HOST_KVM;
    try {
      delete process.env.KVMTS_HOST_KVM;
      expect(hostKvm('/nonexistent/kvm')).toEqual({ kind: 'none', why: '/nonexistent/kvm cannot be opened (ENOENT)' });
      process.env.KVMTS_HOST_KVM = 'full';
      expect(hostKvm('/nonexistent/kvm')).toEqual({ kind: 'full', why: undefined });
      process.env.KVMTS_HOST_KVM = 'sometimes';
      expect(() => hostKvm()).toThrow(/KVMTS_HOST_KVM=sometimes: expected none, pvm or full/);
    } finally {
      if (before === undefined) delete process.env.KVMTS_HOST_KVM;
      else process.env.KVMTS_HOST_KVM = before;
    }
  });
});
