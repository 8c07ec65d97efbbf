/**
 * How dev-gic plugs into arm64 machines, without KVM: its plugin modules register the interrupt
 * controller arch-arm64 resolves per machine container, which puts dev-gic's vGIC checkpoint
 * component where arch-arm64 would refuse; options are checked.
 */
import { CheckpointError, ConfigError, archPluginFor, createMachineContainer, loadPlugins, type MachineConfig } from '@kvmts/core';
import { ARCH_ARM64_MODULE, ARM64_GIC_PHANDLE, ARM64_INTERRUPT_CONTROLLER, arm64ArchPlugin, fdtProp, type FdtNode } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE, DEV_GIC_V2_MODULE, DEV_GIC_V3_ITS_MODULE, VGIC_V3_SECTION, gicV2FdtNode, itsFdtNode, kernelGicController, kernelGicOptions, vgicV3CheckpointComponent } from '@kvmts/dev-gic';
import type { CheckpointContext } from '@kvmts/core';

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

  it('its checkpoint component names what is wrong: no dev-gic vGIC in the VM, a malformed section', () => {
    const ctx = { vm: {} } as unknown as CheckpointContext;
    const caught = (f: () => unknown): CheckpointError => {
      try {
        f();
      } catch (e) {
        return e as CheckpointError;
      }
      throw new Error('no error');
    };
    const noGic = caught(() => vgicV3CheckpointComponent.save(ctx));
    expect(noGic).toBeInstanceOf(CheckpointError);
    expect(noGic.code).toBe('not-saveable');
    expect(noGic.message).toContain('no in-kernel GIC created by @kvmts/dev-gic');
    const malformed = caught(() => vgicV3CheckpointComponent.restore(ctx, { gic: { nrIrqs: 128, distributor: {}, spiLineLevels: [], cpus: [{ mpidr: 1 }] }, its: null }));
    expect(malformed.code).toBe('corrupt');
    expect(malformed.message).toContain('gic.cpus[0]');
  });
});

describe('dev-gic FDT nodes', () => {
  const props = (node: FdtNode) => Object.fromEntries((node.properties ?? []).map((p) => [p.name, Buffer.from(p.value).toString('hex')]));
  const hexOf = (p: { value: Uint8Array }) => Buffer.from(p.value).toString('hex');

  it('describes the ITS as an msi-controller at its 128 KiB frame', () => {
    const node = itsFdtNode();
    expect(node.name).toBe('its@8080000');
    expect(props(node)).toEqual({
      compatible: hexOf(fdtProp.string('compatible', 'arm,gic-v3-its')),
      'msi-controller': '',
      '#msi-cells': '00000001',
      reg: hexOf(fdtProp.u64('reg', 0x0808_0000, 0x2_0000)),
      phandle: '00000003',
    });
  });

  it('describes a vGICv2 with its distributor and 8 KiB CPU interface, as the GIC every interrupt-parent names', () => {
    const node = gicV2FdtNode();
    expect(node.name).toBe('intc@8000000');
    expect(props(node)).toMatchObject({
      compatible: hexOf(fdtProp.string('compatible', 'arm,cortex-a15-gic')),
      '#interrupt-cells': '00000003',
      reg: hexOf(fdtProp.u64('reg', 0x0800_0000, 0x1000, 0x0801_0000, 0x2000)),
      phandle: hexOf(fdtProp.u32('phandle', ARM64_GIC_PHANDLE)),
    });
  });
});
