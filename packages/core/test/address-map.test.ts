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
