/**
 * The nested-x86 gate for the guest-debug exits (support/l0-emulator.ts): which L0 QEMU
 * versions count as having the DR7/#BP gap, for the versions and environments the tier sees.
 */
import { DEBUG_TRAPS_GAP, l0HasGap, parseQemuVersion } from './support/l0-emulator';

describe('L0 QEMU gate for the guest-debug exits', () => {
  it('parses QEMU versions and names a bad one', () => {
    expect(parseQemuVersion('10.0.2')).toEqual([10, 0, 2]);
    expect(parseQemuVersion('7.2.22\n')).toEqual([7, 2, 22]);
    expect(() => parseQemuVersion('10.0')).toThrow('KVMTS_L0_QEMU_VERSION=10.0: expected a QEMU version such as 10.0.2');
  });

  it.each([
    // [tier, L0 version, has the gap]
    [undefined, undefined, false], // the host tier: a real CPU
    ['host', '7.2.22', false], // the version only matters inside the nested tier
    ['nested-arm64', '7.2.22', false],
    ['nested-x86', undefined, true], // a runner that passes no version had only 7.2
    ['nested-x86', '7.2.22', true], // bookworm's QEMU, measured
    ['nested-x86', '9.2.4', true], // not measured: the gate starts at the first measured fix
    ['nested-x86', '10.0.2', false], // bookworm-backports' QEMU, measured
    ['nested-x86', '10.1.0', false],
    ['nested-x86', '11.0.0', false],
  ])('tier %s, L0 QEMU %s: gap %s', (tier, version, gap) => {
    expect(l0HasGap(DEBUG_TRAPS_GAP, { KVMTS_TIER: tier, KVMTS_L0_QEMU_VERSION: version })).toBe(gap);
  });
});
