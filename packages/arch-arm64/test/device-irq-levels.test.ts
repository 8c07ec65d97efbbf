/**
 * The in-kernel timers with a userspace GIC (gic/device-irq-levels.ts): when the combination is
 * refused (gem5's "in-kernel devices require the in-kernel GIC" caveat, now only where it cannot
 * work), and how the levels KVM reports in kvm_run become PPI lines (golden KVM_IRQ_LINE values).
 * The real timer → GIC model → guest path runs in dev-gic's gicv2-timer.nested-arm64.test.ts.
 */
import { ConfigError, type DeviceSpec } from '@kvmts/core';
import { Arm64DeviceIrqLevel, Arm64RunLayout, DeviceIrqLevelForwarder, arm64MachineOptions, checkTimerInterruptPath, forwardsDeviceIrqLevels } from '../src';

const gicv2: DeviceSpec = { plugin: '@kvmts/dev-gic', type: 'gicv2', options: {} };
const uart: DeviceSpec = { plugin: '@kvmts/arch-arm64', type: 'pl011', options: {} };

function pathError(archOptions: unknown, devices: DeviceSpec[], userIrq: boolean): ConfigError | undefined {
  try {
    checkTimerInterruptPath(arm64MachineOptions(archOptions), devices, userIrq);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
}

describe('the in-kernel timer without the in-kernel GIC', () => {
  it('is accepted with a userspace GIC device on a KVM with KVM_CAP_ARM_USER_IRQ, and forwards levels only then', () => {
    expect(pathError({ gic: 'none' }, [gicv2, uart], true)).toBeUndefined();
    expect(forwardsDeviceIrqLevels(arm64MachineOptions({ gic: 'none' }))).toBe(true);
    expect(forwardsDeviceIrqLevels(arm64MachineOptions({}))).toBe(false); // the vGIC takes the timer's PPIs in the kernel
    expect(forwardsDeviceIrqLevels(arm64MachineOptions({ gic: 'none', timer: 'none' }))).toBe(false);
  });

  it('is refused without a GIC to take the PPIs, naming the option and the ways out', () => {
    const e = pathError({ gic: 'none' }, [uart], true)!;
    expect(e.setting).toBe('archOptions.timer');
    expect(e.message).toMatch(/no interrupt controller to take them/);
    expect(e.message).toMatch(/gic: 'kernel'.*gicV2\(\).*timer: 'none'/);
  });

  it('is refused on a KVM without KVM_CAP_ARM_USER_IRQ', () => {
    const e = pathError({ gic: 'none', timer: 'kernel' }, [gicv2], false)!;
    expect(e.setting).toBe('archOptions.timer');
    expect(e.message).toMatch(/no KVM_CAP_ARM_USER_IRQ/);
  });

  it('needs no check with the in-kernel GIC or without the timer', () => {
    expect(pathError({}, [], false)).toBeUndefined();
    expect(pathError({ gic: 'none', timer: 'none' }, [], false)).toBeUndefined();
  });
});

describe('DeviceIrqLevelForwarder', () => {
  const LEVEL = Arm64RunLayout.fields['s.regs.device_irq_level'].offset;
  // KVM_IRQ_LINE values: irq_type PPI (2) << 24 | vcpu << 16 | INTID.
  const VTIMER_VCPU3 = 0x0203_001b;
  const PTIMER_VCPU3 = 0x0203_001e;

  function rig(): { run: Uint8Array; calls: [number, boolean][]; fwd: DeviceIrqLevelForwarder } {
    const run = new Uint8Array(Arm64RunLayout.size);
    const calls: [number, boolean][] = [];
    const fwd = new DeviceIrqLevelForwarder(run, 3, { set: (line, level) => void calls.push([line, level]) });
    return { run, calls, fwd };
  }

  it('passes every level on its first call (a restored GIC may hold another), then only changes', () => {
    const { run, calls, fwd } = rig();
    fwd.update();
    expect(calls).toEqual([
      [VTIMER_VCPU3, false],
      [PTIMER_VCPU3, false],
    ]);
    calls.length = 0;
    fwd.update();
    expect(calls).toEqual([]);
    run[LEVEL] = Arm64DeviceIrqLevel.EL1_VTIMER;
    fwd.update();
    fwd.update();
    expect(calls).toEqual([[VTIMER_VCPU3, true]]);
    run[LEVEL] = Arm64DeviceIrqLevel.EL1_PTIMER;
    fwd.update();
    expect(calls.slice(1)).toEqual([
      [VTIMER_VCPU3, false],
      [PTIMER_VCPU3, true],
    ]);
    expect(fwd.levels).toBe(Arm64DeviceIrqLevel.EL1_PTIMER);
  });

  it('ignores the PMU bit (kvmts creates no vPMU) and the bytes above the low one', () => {
    const { run, calls, fwd } = rig();
    fwd.update();
    calls.length = 0;
    run[LEVEL] = Arm64DeviceIrqLevel.PMU;
    run[LEVEL + 1] = 0xff;
    fwd.update();
    expect(calls).toEqual([]);
  });
});
