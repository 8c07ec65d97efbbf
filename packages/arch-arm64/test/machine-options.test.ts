/**
 * gem5's arm64 KVM caveats (gem5-kvm.md §9) as validated configuration. The other two caveats
 * are tested where they act: ID registers in id-registers.test.ts and cpu.nested-arm64.test.ts,
 * the virtual counter in virtual-counter.test.ts and cpu.nested-arm64.test.ts.
 */
import { ConfigError } from '@kvmts/core';
import { ARM64_DEFAULT_GIC_IRQS, arm64MachineOptions } from '../src';

function configError(raw: unknown): ConfigError {
  try {
    arm64MachineOptions(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('arm64 machine options', () => {
  it('defaults to the in-kernel vGICv3 and the in-kernel generic timer', () => {
    expect(arm64MachineOptions(undefined)).toEqual({ gic: 'kernel', gicIrqs: ARM64_DEFAULT_GIC_IRQS, timer: 'kernel' });
    expect(arm64MachineOptions({ gic: 'none', timer: 'none' })).toEqual({ gic: 'none', gicIrqs: 128, timer: 'none' });
  });

  it('refuses a simulated system-register generic timer with KVM and points to a memory-mapped timer', () => {
    const e = configError({ timer: 'simulated' });
    expect(e.setting).toBe('archOptions.timer');
    expect(e.message).toMatch(/can only|cannot work with KVM/);
    expect(e.message).toMatch(/memory-mapped timer/);
  });

  it('leaves the in-kernel timer without the in-kernel GIC to the interrupt-path check (it needs the devices and KVM)', () => {
    expect(arm64MachineOptions({ gic: 'none' })).toEqual({ gic: 'none', gicIrqs: ARM64_DEFAULT_GIC_IRQS, timer: 'kernel' });
  });

  it('names unknown options and bad values', () => {
    expect(configError({ irqchip: 'kernel' }).setting).toBe('archOptions.irqchip');
    expect(configError({ gic: 'v2' }).setting).toBe('archOptions.gic');
    expect(configError({ gicIrqs: 100 }).setting).toBe('archOptions.gicIrqs');
    expect(configError({ gicIrqs: 2048 }).setting).toBe('archOptions.gicIrqs');
  });

  it('takes at most 992 interrupts: KVM refuses NR_IRQS above 1023 (VGIC_MAX_RESERVED), and 1024 is the next multiple of 32', () => {
    expect(arm64MachineOptions({ gicIrqs: 992 }).gicIrqs).toBe(992);
    expect(configError({ gicIrqs: 1024 }).message).toContain('64–992');
    expect(configError('kernel').setting).toBe('archOptions');
  });
});
