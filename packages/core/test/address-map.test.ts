/**
 * createMachine checks the whole address map on the main thread before the kernel (this host
 * tier has no /dev/kvm: reaching it would be a KvmUnavailableError): devices against each other
 * per address space, and MMIO devices against guest memory, each collision naming both ranges.
 */
import { ConfigError, createMachine } from '@kvmts/core';
import { uart8250 } from '@kvmts/arch-x86';
import { pl011 } from '@kvmts/arch-arm64';

async function configError(config: Parameters<typeof createMachine>[0]): Promise<ConfigError> {
  const e = await createMachine(config).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ConfigError);
  return e as ConfigError;
}

describe('machine address map', () => {
  it('two port devices on overlapping ports', async () => {
    const e = await configError({ arch: 'x86_64', memory: '8M', devices: [uart8250({ port: 0x3f8 }, 'com1'), uart8250({ port: 0x3fc }, 'oops')] });
    expect(e.message).toBe("devices[1]: device 'oops' (0x3fc..0x403) overlaps device 'com1' (0x3f8..0x3ff) in the pio address space");
  });

  it('an MMIO device over guest RAM', async () => {
    const e = await configError({ arch: 'arm64', memory: '64M', devices: [pl011({ base: 0x4000_1000 }, 'uart')] });
    expect(e.message).toBe("devices[0]: device 'uart' (0x40001000..0x40001fff) overlaps memory region 'ram' (0x40000000..0x43ffffff) in the mmio address space");
  });

  it('explicit memory regions on each other', async () => {
    const e = await configError({ arch: 'x86_64', memory: [{ name: 'low', guestPhysAddr: 0, size: 0x200000 }, { name: 'clash', guestPhysAddr: 0x100000, size: 0x1000 }] });
    expect(e.message).toBe("memory[1]: memory region 'clash' (0x100000..0x100fff) overlaps memory region 'low' (0x0..0x1fffff) in the mmio address space");
  });
});

describe('device entries', () => {
  it.each([
    [[null], 'devices[0]: must be a DeviceSpec { plugin, type, options } (use a helper such as uart8250())'],
    [[{ plugin: '@kvmts/arch-x86', type: 'uart8250', name: 7, options: {} }], 'devices[0].name: must be a non-empty string, got 7'],
    [[{ plugin: '@kvmts/arch-x86', type: 'no-such-device', options: {} }], /^devices\[no-such-device\]: no device plugin of type 'no-such-device' \(registered: uart8250, exit-device/],
  ])('%j is a ConfigError naming the entry', async (devices, message) => {
    const e = await configError({ arch: 'x86_64', memory: '8M', devices: devices as never });
    expect(e.message).toMatch(message);
  });
});
