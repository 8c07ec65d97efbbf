/**
 * The nested tiers' choice of QEMU (scripts/nested/lib/qemu-builds.js, private-apt.js): the
 * Depends parsing that decides which host libraries an unpacked build needs, the version probe
 * on the host's real QEMU, and the error for a build the tier does not have.
 */
import { spawnSync } from 'node:child_process';

interface NestedError extends Error { step: string }
// Plain Node scripts of the runner, so they are required rather than imported.
const privateApt = require('../../../scripts/nested/lib/private-apt.js') as { dependsNames(d: string): string[] };
const builds = require('../../../scripts/nested/lib/qemu-builds.js') as {
  qemuVersion(bin: string, env: Record<string, string>): string;
  resolveQemu(cacheDir: string, tier: unknown, requested?: string): unknown;
};
const { TIERS } = require('../../../scripts/nested/lib/tiers.js') as { TIERS: Record<string, { qemu: { bin: string; builds: Record<string, unknown>; defaultBuild: string } }> };

describe('nested tiers: QEMU builds', () => {
  it('takes the package names of a Depends field: versions, arch qualifiers and alternatives dropped', () => {
    const depends = 'libaio1 (>= 0.3.93), libc6 (>= 2.34), libjack-jackd2-0 (>= 1.9.10+20150825) | libjack-0.125, '
      + 'python3:any, qemu-system-common (= 1:10.0.2+ds-2+deb13u1~bpo12+1), seabios (>> 1.16.3-1~), ipxe-qemu';
    expect(privateApt.dependsNames(depends)).toEqual(['libaio1', 'libc6', 'libjack-jackd2-0', 'python3', 'qemu-system-common', 'seabios', 'ipxe-qemu']);
    expect(privateApt.dependsNames('')).toEqual([]);
  });

  it('every tier names a default build it has; both can run QEMU 10 from backports, arm64 by default', () => {
    for (const tier of Object.values(TIERS)) expect(Object.keys(tier.qemu.builds)).toContain(tier.qemu.defaultBuild);
    expect(TIERS.x86.qemu.builds).toMatchObject({ system: { kind: 'system' }, backports: { kind: 'apt', packages: expect.arrayContaining(['qemu-system-x86', 'seabios']) } });
    expect(TIERS.arm64.qemu.builds).toMatchObject({ system: { kind: 'system' }, backports: { kind: 'apt', packages: expect.arrayContaining(['qemu-system-arm']) } });
    // 7.2 ran a destroyed VM's code in a new one (docs/testing.md, "nested-arm64 on QEMU 10").
    expect([TIERS.x86.qemu.defaultBuild, TIERS.arm64.qemu.defaultBuild]).toEqual(['system', 'backports']);
  });

  it('an unknown KVMTS_NESTED_QEMU is an error naming it and the builds there are', () => {
    let err: NestedError | undefined;
    try { builds.resolveQemu('/nonexistent', { tier: 'nested-x86', ...TIERS.x86 }, 'qemu11'); } catch (e) { err = e as NestedError; }
    expect(err?.name).toBe('NestedError');
    expect(err?.message).toBe('KVMTS_NESTED_QEMU: nested-x86 has no QEMU build "qemu11" (known: system, backports)');
  });

  const hostQemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  (hostQemu.status === 0 ? it : it.skip)('reads the version of the host\'s QEMU as --version prints it', () => {
    const printed = /QEMU emulator version (\d+\.\d+\.\d+)/.exec(hostQemu.stdout)?.[1];
    expect(builds.qemuVersion('qemu-system-x86_64', {})).toBe(printed);
    expect(() => builds.qemuVersion('/bin/false', {})).toThrow('qemu --version: /bin/false did not report a QEMU version (does it run?)');
  });
});
