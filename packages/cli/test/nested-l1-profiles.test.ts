/**
 * The nested runner's L1 profiles (scripts/nested/lib/l1-profiles.js): the QEMU arguments a
 * profile gives the emulated host, and which test files a suite profile takes into emulated
 * hosts of their own.
 */
interface NestedError extends Error { step: string }
const profiles = require('../../../scripts/nested/lib/l1-profiles.js') as {
  l1Args(tier: unknown, profile?: string): string[];
  splitBySuiteProfile(tier: unknown, files: string[]): { rest: string[]; groups: { profile: string; files: string[] }[] };
};
const { TIERS } = require('../../../scripts/nested/lib/tiers.js') as { TIERS: Record<string, { tier: string; qemu: { args: string[] } }> };

const tier = {
  tier: 'nested-test',
  qemu: {
    args: ['-accel', 'tcg,thread=single', '-M', 'q35', '-smp', '2'],
    profiles: { 'tcg-multi': { accel: 'tcg,thread=multi' } },
    suiteProfiles: [{ files: /^linux-.*\.nested-x86\.test\.ts$/, profile: 'tcg-multi' }],
  },
};

describe('nested tiers: L1 profiles', () => {
  it('a profile replaces only the -accel value; no profile keeps the tier\'s arguments', () => {
    expect(profiles.l1Args(tier, 'tcg-multi')).toEqual(['-accel', 'tcg,thread=multi', '-M', 'q35', '-smp', '2']);
    expect(profiles.l1Args(tier)).toEqual(tier.qemu.args);
    expect(profiles.l1Args(tier, '')).toEqual(tier.qemu.args);
    expect(profiles.l1Args(tier)).not.toBe(tier.qemu.args); // a copy: callers append to it
  });

  it('an unknown profile, or a tier without -accel, is a NestedError naming it', () => {
    expect(() => profiles.l1Args(tier, 'kvm')).toThrow('KVMTS_NESTED_L1: nested-test has no L1 profile "kvm" (known: tcg-multi)');
    const noAccel = { ...tier, qemu: { ...tier.qemu, args: ['-M', 'q35'] } };
    expect(() => profiles.l1Args(noAccel, 'tcg-multi')).toThrow(/no -accel for profile "tcg-multi"/);
    try {
      profiles.l1Args(tier, 'kvm');
    } catch (e) {
      expect((e as NestedError).step).toBe('KVMTS_NESTED_L1');
    }
  });

  it('takes the files a suite profile matches (by file name) into their own group, in order', () => {
    const files = ['/r/p/a/test/linux-shell.nested-x86.test.ts', '/r/p/a/test/cpl0-speed.nested-x86.test.ts',
      '/r/p/a/test/linux-bzimage.nested-x86.test.ts', '/r/p/core/test/vm.kvm.test.ts'];
    expect(profiles.splitBySuiteProfile(tier, files)).toEqual({
      rest: ['/r/p/a/test/cpl0-speed.nested-x86.test.ts', '/r/p/core/test/vm.kvm.test.ts'],
      groups: [{ profile: 'tcg-multi', files: ['/r/p/a/test/linux-shell.nested-x86.test.ts', '/r/p/a/test/linux-bzimage.nested-x86.test.ts'] }],
    });
    expect(profiles.splitBySuiteProfile(tier, ['/r/x.kvm.test.ts'])).toEqual({ rest: ['/r/x.kvm.test.ts'], groups: [] });
    const broken = { ...tier, qemu: { ...tier.qemu, suiteProfiles: [{ files: /linux/, profile: 'nope' }] } };
    expect(() => profiles.splitBySuiteProfile(broken, ['/r/linux.test.ts'])).toThrow(/names no profile of the tier: "nope"/);
  });

  it('every real tier profile and suite-profile rule resolves', () => {
    for (const t of Object.values(TIERS) as { tier: string; qemu: { args: string[]; profiles?: Record<string, unknown>; suiteProfiles?: { profile: string }[] } }[]) {
      for (const name of Object.keys(t.qemu.profiles ?? {})) expect(profiles.l1Args(t, name)).toHaveLength(t.qemu.args.length);
      for (const rule of t.qemu.suiteProfiles ?? []) expect(Object.keys(t.qemu.profiles ?? {})).toContain(rule.profile);
    }
  });
});
