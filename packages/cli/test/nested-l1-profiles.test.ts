/**
 * The nested runner's L1 profiles (scripts/nested/lib/l1-profiles.js): the QEMU arguments a
 * profile (KVMTS_NESTED_L1) gives the emulated host.
 */
interface NestedError extends Error { step: string }
const profiles = require('../../../scripts/nested/lib/l1-profiles.js') as {
  l1Args(tier: unknown, profile?: string): string[];
};
const { TIERS } = require('../../../scripts/nested/lib/tiers.js') as { TIERS: Record<string, { tier: string; qemu: { args: string[] } }> };

const tier = {
  tier: 'nested-test',
  qemu: {
    args: ['-accel', 'tcg,thread=single', '-M', 'q35', '-smp', '2'],
    profiles: { 'tcg-multi': { accel: 'tcg,thread=multi' } },
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

  it('every real tier profile resolves; x86 has tcg-multi', () => {
    for (const t of Object.values(TIERS) as { tier: string; qemu: { args: string[]; profiles?: Record<string, unknown> } }[]) {
      for (const name of Object.keys(t.qemu.profiles ?? {})) expect(profiles.l1Args(t, name)).toHaveLength(t.qemu.args.length);
    }
    expect(profiles.l1Args(TIERS.x86, 'tcg-multi').slice(0, 2)).toEqual(['-accel', 'tcg,thread=multi']);
  });
});
