/**
 * The nested-x86 gates for the guest-debug exits (support/l0-emulator.ts): which L0 QEMU
 * versions count as having each gap, for the versions and environments the tier sees.
 */
import { BP_INTERCEPT_GAP, DR7_GAP, l0HasGap, parseQemuVersion } from './support/l0-emulator';

describe('L0 QEMU gates for the guest-debug exits', () => {
  it('parses QEMU versions and names a bad one', () => {
    expect(parseQemuVersion('10.0.2')).toEqual([10, 0, 2]);
    expect(parseQemuVersion('7.2.22\n')).toEqual([7, 2, 22]);
    expect(() => parseQemuVersion('10.0')).toThrow('KVMTS_L0_QEMU_VERSION=10.0: expected a QEMU version such as 10.0.2');
  });

  it.each([
    // [tier, L0 version, has the DR7 gap, has the #BP intercept gap]
    [undefined, undefined, false, false], // the host tier: a real CPU
    ['host', '7.2.22', false, false], // the version only matters inside the nested tier
    ['nested-arm64', '7.2.22', false, false],
    ['nested-x86', undefined, true, true], // a runner that passes no version had only 7.2
    ['nested-x86', '7.2.22', true, true], // bookworm's QEMU, measured
    ['nested-x86', '9.2.4', true, true], // not measured: the DR7 gate starts at the first measured fix
    ['nested-x86', '10.0.2', false, true], // bookworm-backports' QEMU, measured
    ['nested-x86', '10.1.0', false, true],
    ['nested-x86', '11.0.0', false, true], // no version is known to intercept an L2's int3
  ])('tier %s, L0 QEMU %s: DR7 gap %s, #BP intercept gap %s', (tier, version, dr7, bp) => {
    const env = { KVMTS_TIER: tier, KVMTS_L0_QEMU_VERSION: version };
    expect([l0HasGap(DR7_GAP, env), l0HasGap(BP_INTERCEPT_GAP, env)]).toEqual([dr7, bp]);
  });
});
