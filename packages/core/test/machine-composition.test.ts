/**
 * Machine composition rules that are checked before anything touches the kernel (no KVM
 * needed): where overrides may be registered, arch discovery, and device placement by address
 * space.
 */
import * as path from 'node:path';
import { ConfigError, KVM_CPU, archForHost, createIsolatedContainer, createMachine, findInstalledArchPlugins } from '@kvmts/core';

const oddSpaceDevice = path.resolve(__dirname, 'fixtures/odd-space-device-plugin.js');

describe('machine composition (before the kernel)', () => {
  it('a CPU registered in the parent container is refused: vCPU threads cannot see it', async () => {
    const parent = createIsolatedContainer();
    parent.register(KVM_CPU, { useValue: {} });
    await expect(createMachine({ arch: 'x86_64', memory: '8M' }, { container: parent })).rejects.toThrow(
      /container: kvmts\.KvmCPU is built in each vCPU thread, which cannot see this container: register it from a plugin module named in `plugins`/,
    );
  });

  it('installed arch plugins are found by the kvmts field of their package.json', () => {
    expect(findInstalledArchPlugins()).toEqual(expect.arrayContaining([expect.objectContaining({ arch: 'x86_64', packageName: '@kvmts/arch-x86' })]));
  });

  it('an architecture nobody implements is a ConfigError that lists what is available', async () => {
    const e = await createMachine({ arch: 'riscv64', memory: '8M' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toMatch(/arch: no plugin for architecture 'riscv64': install one .*"kvmts": \{"arch": "riscv64"\}.*available: .*x86_64 \(@kvmts\/arch-x86\)/);
  });

  it('a device placed in an address space the arch lacks is refused, naming the spaces it has', async () => {
    await expect(createMachine({ arch: 'x86_64', memory: '8M', devices: [{ plugin: oddSpaceDevice, type: 'dcr-device', options: {} }] })).rejects.toThrow(
      /devices\[0\]: a dcr-device sits in address space 'dcr', which this architecture does not have \(it has: mmio, pio\)/,
    );
  });

  it('maps the host architecture to a default plugin name', () => {
    expect(archForHost('x64')).toBe('x86_64');
    expect(archForHost('arm64')).toBe('arm64');
    expect(archForHost('ppc64')).toBeUndefined();
  });
});
