/**
 * How dev-gic plugs into arm64 machines, without KVM: its plugin modules register the interrupt
 * controller arch-arm64 resolves per machine container, which puts dev-gic's vGIC checkpoint
 * component where arch-arm64 would refuse; options are checked.
 */
import { ConfigError, archPluginFor, createMachineContainer, loadPlugins, type MachineConfig } from '@kvmts/core';
import { ARCH_ARM64_MODULE, ARM64_INTERRUPT_CONTROLLER, arm64ArchPlugin } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE, DEV_GIC_V2_MODULE, DEV_GIC_V3_ITS_MODULE, VGIC_V3_SECTION, kernelGicController, kernelGicOptions } from '@kvmts/dev-gic';

const config = (archOptions: MachineConfig['archOptions']): MachineConfig => ({ arch: 'arm64', memory: 1 << 20, archOptions });

function componentNames(modules: string[], archOptions: MachineConfig['archOptions'] = { gic: 'kernel', timer: 'none' }): string[] {
  const container = createMachineContainer();
  loadPlugins(container, modules);
  const arch = archPluginFor(container, 'arm64')!;
  return arch.checkpoint!.vmComponents(config(archOptions)).map((c) => c.name);
}

describe('dev-gic as the arm64 interrupt controller', () => {
  it('replaces arch-arm64’s vGIC refusal with its own state component when its module is loaded', () => {
    expect(componentNames([ARCH_ARM64_MODULE])).toEqual(['arm64.vgic-v3', 'arm64.virtual-counter']);
    expect(componentNames([ARCH_ARM64_MODULE, DEV_GIC_MODULE])).toEqual([VGIC_V3_SECTION, 'arm64.virtual-counter']);
    expect(componentNames([ARCH_ARM64_MODULE, DEV_GIC_V3_ITS_MODULE])).toEqual([VGIC_V3_SECTION, 'arm64.virtual-counter']);
    expect(componentNames([ARCH_ARM64_MODULE, DEV_GIC_V2_MODULE])).toEqual(['gic.vgic-v2', 'arm64.virtual-counter']);
    expect(componentNames([ARCH_ARM64_MODULE, DEV_GIC_MODULE], { gic: 'none', timer: 'none' })).toEqual(['arm64.virtual-counter']);
  });

  it('leaves the arch plugin as it is in a container without a controller, and registers one per module', () => {
    const plain = createMachineContainer();
    loadPlugins(plain, [ARCH_ARM64_MODULE]);
    expect(archPluginFor(plain, 'arm64')).toBe(arm64ArchPlugin);
    const withGic = createMachineContainer();
    loadPlugins(withGic, [ARCH_ARM64_MODULE, DEV_GIC_V3_ITS_MODULE]);
    expect(withGic.resolve(ARM64_INTERRUPT_CONTROLLER).name).toBe('@kvmts/dev-gic vGICv3 with ITS');
  });

  it('checks its options', () => {
    expect(kernelGicOptions()).toEqual({ version: 3, its: false });
    expect(() => kernelGicOptions({ version: 2, its: true })).toThrow(/an ITS belongs to a GICv3/);
    expect(() => kernelGicController({ version: 4 as never })).toThrow(ConfigError);
    expect(() => kernelGicOptions({ its: 'yes' as never })).toThrow(ConfigError);
  });
});
