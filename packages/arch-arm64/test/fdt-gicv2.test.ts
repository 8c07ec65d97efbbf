import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@kvmts/core';
import { arm64MachineFdt, arm64MachineOptions, userspaceGicV2Frames } from '../src';

describe('FDT of a machine with a userspace GICv2', () => {
  it('matches the golden DTB (dtc decompiles it to test/fixtures/machine-gicv2.dts): arm,cortex-a15-gic node, interrupt-parent, UART interrupts', () => {
    const dtb = arm64MachineFdt({
      memory: [{ base: 0x4000_0000, size: 0x100_0000 }],
      mpidrs: [0x8000_0000n],
      gicV2: { distributor: 0x0800_0000, cpuInterface: 0x0801_0000 },
      timer: false,
      uarts: [{ base: 0x0900_0000, spi: 1 }],
    });
    expect(Buffer.from(dtb).equals(fs.readFileSync(path.join(__dirname, 'fixtures', 'machine-gicv2.dtb')))).toBe(true);
  });
});

describe('finding the userspace GICv2 among the devices', () => {
  const none = arm64MachineOptions({ gic: 'none', timer: 'none' });
  const gicv2 = (options: object = {}) => ({ plugin: '@kvmts/dev-gic', type: 'gicv2', options });

  it('takes its frames from its options, with ARM64_LAYOUT defaults', () => {
    expect(userspaceGicV2Frames([], none)).toBeUndefined();
    expect(userspaceGicV2Frames([gicv2()], none)).toEqual({ distributor: 0x0800_0000, cpuInterface: 0x0801_0000 });
    expect(userspaceGicV2Frames([gicv2({ distributor: 0x0a00_0000, cpuInterface: 0x0a01_0000 })], none)).toEqual({ distributor: 0x0a00_0000, cpuInterface: 0x0a01_0000 });
  });

  it('refuses a second interrupt controller', () => {
    expect(() => userspaceGicV2Frames([gicv2(), gicv2()], none)).toThrow(/one interrupt controller, not 2/);
    expect(() => userspaceGicV2Frames([gicv2()], arm64MachineOptions({}))).toThrow(ConfigError);
    expect(() => userspaceGicV2Frames([gicv2()], arm64MachineOptions({}))).toThrow(/gic: 'none'/);
  });
});
