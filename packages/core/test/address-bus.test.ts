import { AddressBus, AddressBuses, ConfigError, MMIO_SPACE, UNCLAIMED, type AccessSize, type AddressSpace, type Device, type HighWord } from '@kvmts/core';

/** A port-like space, as an arch plugin would declare one (core itself names no such space). */
const PORTS: AddressSpace = { name: 'ports', limit: 0x10000 };
const portBus = () => new AddressBus(PORTS);
const mmioBus = () => new AddressBus(MMIO_SPACE);

class Regs implements Device {
  readonly log: string[] = [];
  constructor(readonly name: string) {}
  read(offset: number, size: AccessSize, out: HighWord): number {
    this.log.push(`r${offset}/${size}`);
    if (size === 8) out.high = 0xcafebabe;
    return 0x80000000 + offset;
  }
  write(offset: number, size: AccessSize, value: number, high: number): void {
    this.log.push(`w${offset}/${size}=${value.toString(16)}:${high.toString(16)}`);
  }
}

describe('AddressBus', () => {
  it('routes accesses to the device at offsets from its base', () => {
    const bus = portBus();
    const uart = new Regs('uart');
    const exit = new Regs('exit');
    bus.attach({ base: 0x3f8, size: 8 }, uart);
    bus.attach({ base: 0xf4, size: 4 }, exit);
    expect(bus.read(0x3fd, 1)).toBe(0x80000005);
    expect(bus.write(0xf4, 1, 0x2a, 0)).toBe(true);
    expect(bus.write(0x3f8, 2, 0x4142, 0)).toBe(true);
    expect(uart.log).toEqual(['r5/1', 'w0/2=4142:0']);
    expect(exit.log).toEqual(['w0/1=2a:0']);
  });

  it('returns values as unsigned 32-bit and the high half of 8-byte reads separately', () => {
    const bus = mmioBus();
    bus.attach({ base: 0xd0000000, size: 0x1000 }, new Regs('dev'));
    expect(bus.read(0xd0000010, 8)).toBe(0x80000010);
    expect(bus.high.high).toBe(0xcafebabe);
    expect(bus.read(0xd0000010, 4)).toBe(0x80000010);
    expect(bus.high.high).toBe(0);
  });

  it('reports unclaimed accesses and counts them', () => {
    const bus = portBus();
    bus.attach({ base: 0x60, size: 1 }, new Regs('kbd'));
    expect(bus.read(0x61, 1)).toBe(UNCLAIMED);
    expect(bus.high.high).toBe(0xffffffff);
    expect(bus.write(0x5f, 1, 0, 0)).toBe(false);
    expect(bus.unclaimedCount).toBe(2);
  });

  it('finds devices among many ranges (binary search) and after detach', () => {
    const bus = mmioBus();
    const devs = Array.from({ length: 64 }, (_, i) => new Regs(`d${i}`));
    devs.forEach((d, i) => bus.attach({ base: 0x10000 * (64 - i), size: 0x100 }, d));
    expect(bus.read(0x10000 * 7 + 0x10, 4)).toBe(0x80000010);
    expect(devs[64 - 7].log).toEqual(['r16/4']);
    bus.detach(devs[64 - 7]);
    expect(bus.read(0x10000 * 7 + 0x10, 4)).toBe(UNCLAIMED);
    expect(bus.ranges()).toHaveLength(63);
  });

  it('rejects overlapping, empty and out-of-range attachments with ConfigError', () => {
    const bus = portBus();
    bus.attach({ base: 0x3f8, size: 8 }, new Regs('com1'));
    expect(() => bus.attach({ base: 0x3ff, size: 2 }, new Regs('clash'))).toThrow("ports[clash]: device 'clash' (0x3ff..0x400) overlaps device 'com1' (0x3f8..0x3ff) in the ports address space");
    expect(() => bus.attach({ base: 0x10, size: 0 }, new Regs('empty'))).toThrow(ConfigError);
    expect(() => bus.attach({ base: 0xffff, size: 2 }, new Regs('wrap'))).toThrow(/exceeds the bus limit 0x10000/);
  });
});

describe('AddressBuses', () => {
  it('always has mmio, adds the spaces an arch declares, and names what exists when asked for another', () => {
    const buses = new AddressBuses([PORTS]);
    expect(buses.names()).toEqual(['mmio', 'ports']);
    expect(buses.mmio).toBe(buses.get('mmio'));
    expect(buses.require('ports', 'devices[uart]').space).toBe(PORTS);
    expect(buses.get('pio')).toBeUndefined();
    expect(() => buses.require('pio', 'devices[uart]')).toThrow(/devices\[uart\]: address space 'pio' does not exist on this architecture \(it has: mmio, ports\)/);
  });
});
