/**
 * The PC PCI host through its ports, built by the real device machinery (the arch plugin's
 * registrations, prepareDevices, attachDevices): configuration mechanism #1 at every width and
 * byte offset, absent functions, and BAR decode shared by two threads' buses (two sets of buses
 * over the same shared state, as two vCPU threads have).
 */
import { AddressBuses, ConfigError, PCI_TEST_DEVICE_MAGIC, attachDevices, createIsolatedContainer, pciTestDevice, prepareDevices, type PciFunctionSpec } from '@kvmts/core';
import { pciHost, register, uart8250, x86PciInterruptLine, type X86PciHostOptions } from '../src';
import { pciHostMachine } from './support/pci-host-threads';
import { X86_PORT_IO_SPACE } from '../src/address-spaces';

const ADDRESS = 0xcf8;
const DATA = 0xcfc;
const ENABLE = 0x80000000;
/** CONFIG_ADDRESS of bus 0, `device`, function `fn`, dword `reg`. */
const cfg = (device: number, reg: number, fn = 0) => (ENABLE | (device << 11) | (fn << 8) | reg) >>> 0;

function machine(options: X86PciHostOptions) {
  const { devices, thread: hostThread } = pciHostMachine(options);
  /** One vCPU thread's view: its own container, buses and device instances over the shared state. */
  const thread = (vcpuId: number) => {
    const { buses, pio, host } = hostThread(vcpuId);
    return {
      buses,
      host,
      in: (port: number, size: 1 | 2 | 4) => pio.read(port, size),
      out: (port: number, size: 1 | 2 | 4, value: number) => pio.write(port, size, value, 0),
      configRead: (address: number, offset = 0, size: 1 | 2 | 4 = 4) => (pio.write(ADDRESS, 4, address, 0), pio.read(DATA + offset, size)),
      configWrite: (address: number, value: number, offset = 0, size: 1 | 2 | 4 = 4) => (pio.write(ADDRESS, 4, address, 0), pio.write(DATA + offset, size, value, 0)),
      mmioRead: (addr: number, size: 1 | 2 | 4 = 4) => buses.mmio.read(addr, size),
      mmioWrite: (addr: number, value: number, size: 1 | 2 | 4 = 4) => buses.mmio.write(addr, size, value, 0),
    };
  };
  return { devices, thread };
}

const testDeviceAt5 = { functions: [pciTestDevice({ device: 5 })] };

describe('PCI configuration mechanism #1 (0xCF8/0xCFC)', () => {
  it('latches CONFIG_ADDRESS only on 32-bit accesses, keeping enable, bus, device, function and dword register', () => {
    const t = machine(testDeviceAt5).thread(0);
    expect(t.in(ADDRESS, 4)).toBe(0);
    t.out(ADDRESS, 4, 0xffffffff);
    expect(t.in(ADDRESS, 4)).toBe(0x80fffffc); // bits 30:24 reserved, 1:0 read as 0
    // Linux's pci_check_type1: a byte to 0xCFB, then the latch must read back what was written.
    t.out(ADDRESS + 3, 1, 0x01);
    t.out(ADDRESS, 4, 0x80000000);
    expect(t.in(ADDRESS, 4)).toBe(0x80000000);
    t.out(ADDRESS, 2, 0x1234);
    t.out(ADDRESS + 2, 1, 0x56);
    expect(t.in(ADDRESS, 4)).toBe(0x80000000);
    expect(t.in(ADDRESS, 2)).toBe(0xffff);
    expect(t.in(ADDRESS + 1, 1)).toBe(0xff);
  });

  it('reads config space at every width and byte offset of the data window (golden: ids 0x4b56/0x7473)', () => {
    const t = machine(testDeviceAt5).thread(0);
    t.out(ADDRESS, 4, cfg(5, 0x00));
    expect([0, 1, 2, 3].map((k) => t.in(DATA + k, 1))).toEqual([0x56, 0x4b, 0x73, 0x74]);
    expect([0, 1, 2].map((k) => t.in(DATA + k, 2))).toEqual([0x4b56, 0x734b, 0x7473]);
    expect(t.in(DATA + 3, 2)).toBe(0xff74); // the upper byte is port 0xD00, outside the window
    expect(t.in(DATA, 4)).toBe(0x74734b56);
    expect(t.configRead(cfg(5, 0x08))).toBe(0xff000000); // class ff/00/00, revision 0
    expect(t.configRead(cfg(5, 0x08), 3, 1)).toBe(0xff);
  });

  it('writes config space at every width and byte offset, through the register masks', () => {
    const t = machine(testDeviceAt5).thread(0);
    // 0x0c: cache line size and latency timer are writable; header type and BIST are not.
    t.configWrite(cfg(5, 0x0c), 0x10, 0, 1);
    t.configWrite(cfg(5, 0x0c), 0x40, 1, 1);
    t.configWrite(cfg(5, 0x0c), 0xffff, 2, 2);
    expect(t.configRead(cfg(5, 0x0c))).toBe(0x00004010);
    // 0x3c: interrupt line writable (preset to the route of device 5's INTA#: IRQ 10), pin 1 and
    // min-gnt/max-lat read-only.
    expect(t.configRead(cfg(5, 0x3c))).toBe(0x0000010a);
    t.configWrite(cfg(5, 0x3c), 0xffffffff);
    expect(t.configRead(cfg(5, 0x3c))).toBe(0x000001ff);
    t.configWrite(cfg(5, 0x3c), 0x0b, 0, 1);
    expect(t.configRead(cfg(5, 0x3c), 0, 1)).toBe(0x0b);
    // Command: a word write at 0xCFC; bits the function does not implement stay 0.
    t.configWrite(cfg(5, 0x04), 0xffff, 0, 2);
    expect(t.configRead(cfg(5, 0x04))).toBe(0x00000547);
    // The ids are read-only.
    t.configWrite(cfg(5, 0x00), 0x12345678);
    expect(t.configRead(cfg(5, 0x00))).toBe(0x74734b56);
    // BAR0 written a byte at a time at 0xCFD–0xCFF: bits below its 4 KiB size stay 0.
    t.configWrite(cfg(5, 0x10), 0xe1, 3, 1);
    t.configWrite(cfg(5, 0x10), 0x23, 2, 1);
    t.configWrite(cfg(5, 0x10), 0x45, 1, 1);
    expect(t.configRead(cfg(5, 0x10))).toBe(0xe1234000);
  });

  it('sizes BARs: all-ones reads back the size mask with the type bits (mem32, io, mem64 prefetchable)', () => {
    const t = machine({ functions: [pciTestDevice({ device: 5 }, { bar2Size: 0x100000 })] }).thread(0);
    for (const reg of [0x10, 0x14, 0x18, 0x1c, 0x20, 0x24]) t.configWrite(cfg(5, reg), 0xffffffff);
    expect([0x10, 0x14, 0x18, 0x1c, 0x20, 0x24].map((reg) => t.configRead(cfg(5, reg)))).toEqual([0xfffff000, 0x0000ffe1, 0xfff0000c, 0xffffffff, 0, 0]);
  });

  it('answers all-ones for absent devices, functions and buses, and with the enable bit clear; writes there go nowhere', () => {
    const t = machine(testDeviceAt5).thread(0);
    expect(t.configRead(cfg(4, 0x00))).toBe(0xffffffff);
    expect(t.configRead(cfg(5, 0x00, 1))).toBe(0xffffffff);
    expect(t.configRead(cfg(4, 0x00), 2, 2)).toBe(0xffff);
    expect(t.configRead(cfg(4, 0x00), 1, 1)).toBe(0xff);
    expect(t.configRead((cfg(5, 0x00) | (1 << 16)) >>> 0)).toBe(0xffffffff); // bus 1
    expect(t.configRead((5 << 11) | 0x00)).toBe(0xffffffff); // enable clear
    t.configWrite((5 << 11) | 0x3c, 0x0e, 0, 1); // enable clear: dropped
    expect(t.configRead(cfg(5, 0x3c), 0, 1)).toBe(10);
    // A scan of bus 0 finds exactly device 5.
    const found = Array.from({ length: 32 }, (_, d) => d).filter((d) => t.configRead(cfg(d, 0)) !== 0xffffffff);
    expect(found).toEqual([5]);
  });

  it('marks every function of a multi-function device in the header type, and finds functions only where registered', () => {
    const t = machine({ functions: [pciTestDevice({ device: 3 }), pciTestDevice({ device: 3, function: 2 }, { deviceId: 0x0002 }), pciTestDevice({ device: 7 })] }).thread(0);
    expect(t.configRead(cfg(3, 0x0c), 2, 1)).toBe(0x80);
    expect(t.configRead(cfg(3, 0x0c, 2), 2, 1)).toBe(0x80);
    expect(t.configRead(cfg(7, 0x0c), 2, 1)).toBe(0x00);
    expect(t.configRead(cfg(3, 0x00, 2))).toBe(0x00024b56);
    expect(t.configRead(cfg(3, 0x00, 1))).toBe(0xffffffff);
  });
});

describe('PCI BAR decode across threads', () => {
  it('maps a BAR on every thread once decode is on, follows a move made on another thread, and unmaps the old address', () => {
    const m = machine(testDeviceAt5);
    const a = m.thread(0);
    const b = m.thread(1);
    a.configWrite(cfg(5, 0x10), 0xe0000000);
    a.configWrite(cfg(5, 0x14), 0xc000);
    // Decode off: the window answers nothing (master abort: all-ones), the I/O window neither.
    expect(a.mmioRead(0xe0000000)).toBe(0xffffffff);
    expect(b.in(0xc000, 4)).toBe(0xffffffff);
    a.configWrite(cfg(5, 0x04), 0x3, 0, 2);
    expect(b.mmioRead(0xe0000000)).toBe(PCI_TEST_DEVICE_MAGIC);
    expect(b.mmioRead(0xe0000001, 1)).toBe(0x56);
    b.mmioWrite(0xe0000010, 0x12345678);
    expect(a.mmioRead(0xe0000010)).toBe(0x12345678);
    expect(a.in(0xc010, 4)).toBe(0x12345678); // the I/O BAR mirrors the same registers
    expect(a.in(0xc012, 2)).toBe(0x1234);
    // Thread b moves BAR0; thread a follows on its next access.
    b.configWrite(cfg(5, 0x10), 0xe0200000);
    expect(a.mmioRead(0xe0000000)).toBe(0xffffffff);
    expect(a.mmioRead(0xe0200010)).toBe(0x12345678);
    expect(a.host.host.masterAborts).toBe(2);
    // Memory decode off on a: b's mapping goes, the I/O BAR stays.
    a.configWrite(cfg(5, 0x04), 0x1, 0, 2);
    expect(b.mmioRead(0xe0200000)).toBe(0xffffffff);
    expect(b.in(0xc000, 4)).toBe(PCI_TEST_DEVICE_MAGIC);
    // The buses hold the windows, not the BARs: placement is fixed, decode lives behind it.
    expect(b.buses.mmio.ranges().map((r) => [r.base, r.size, r.device.name])).toEqual([[0xe0000000, 0x10000000, 'pci.mmio-window']]);
    expect(b.buses.get('pio')!.ranges().map((r) => [r.base, r.size, r.device.name])).toEqual([
      [0xcf8, 8, 'pci.config-ports'],
      [0xc000, 0x4000, 'pci.io-window'],
    ]);
  });
});

describe('PCI INTx routing on the PC', () => {
  it('swizzles pin p of device d to PIRQ (d + p - 1) mod 4, and PIRQA-D to IRQs 10, 10, 11, 11', () => {
    const table = [0, 1, 2, 3, 4].map((d) => [1, 2, 3, 4].map((pin) => x86PciInterruptLine(d, pin)));
    expect(table).toEqual([
      [10, 10, 11, 11],
      [10, 11, 11, 10],
      [11, 11, 10, 10],
      [11, 10, 10, 11],
      [10, 10, 11, 11],
    ]);
  });

  it('drives the routed IRQ through the device context when the test device asserts INTA#', () => {
    const levels: [number, boolean][] = [];
    const container = createIsolatedContainer();
    register(container);
    const devices = prepareDevices(container, [pciHost({ functions: [pciTestDevice({ device: 6 })] }, 'pci')], [X86_PORT_IO_SPACE]);
    const buses = new AddressBuses([X86_PORT_IO_SPACE]);
    attachDevices(container.createChildContainer(), devices, (d) => ({ name: d.name, vcpuId: 0, shared: d.shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: (line, level) => levels.push([line, level]) }), buses);
    const pio = buses.get('pio')!;
    pio.write(ADDRESS, 4, cfg(6, 0x3c), 0);
    expect(pio.read(DATA, 1)).toBe(11);
    pio.write(ADDRESS, 4, cfg(6, 0x14), 0);
    pio.write(DATA, 4, 0xc100, 0);
    pio.write(ADDRESS, 4, cfg(6, 0x04), 0);
    pio.write(DATA, 2, 0x1, 0);
    pio.write(0xc104, 1, 1, 0);
    pio.write(0xc104, 1, 0, 0);
    expect(levels).toEqual([[11, true], [11, false]]);
  });
});

describe('PCI host options', () => {
  const errorOf = (options: unknown): ConfigError => {
    try {
      machine(options as X86PciHostOptions);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };
  const f = (spec: Partial<PciFunctionSpec>): PciFunctionSpec => ({ ...pciTestDevice({ device: 1 }), ...spec });

  it('rejects bad options with a ConfigError naming the setting', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ functions: [], extra: 1 }, 'pci-host.extra', /unknown option/],
      [{ functions: 'x' }, 'pci-host.functions', /must be an array/],
      [{ functions: [f({ device: 32 })] }, 'pci-host.functions[0].device', /\[0, 31\]/],
      [{ functions: [f({ function: 8 })] }, 'pci-host.functions[0].function', /\[0, 7\]/],
      [{ functions: [f({}), f({})] }, 'pci-host.functions[1].device', /taken/],
      [{ functions: [f({ function: 1 })] }, 'pci-host.functions[0].function', /no function 0/],
      [{ functions: [f({ type: 'nic' })] }, 'pci-host.functions[0].type', /no PCI function plugin of type 'nic' \(registered: pci-test-device\)/],
      [{ functions: [f({ options: { bar2Size: 100 } })] }, 'pci-test-device.bar2Size', /power of two/],
      [{ functions: [f({ options: { vendorId: 0xffff } })] }, 'pci-host.functions[0](pci-test-device@1.0).vendorId', /no function here/],
      [{ functions: [], mmioWindow: { base: 0x1000, size: 0x1000 } }, 'pci-host.mmioWindow', /MMIO hole/],
      [{ functions: [], mmioWindow: { base: 0xfe000000, size: 0x1000000 } }, 'pci-host.mmioWindow', /below the IOAPIC/],
      [{ functions: [], ioWindow: { base: 0xc00, size: 0x400 } }, 'pci-host.ioWindow', /configuration ports/],
      [{ functions: [], ioWindow: { base: 0xf000, size: 0x2000 } }, 'pci-host.ioWindow', /below 0x10000/],
    ];
    for (const [options, setting, message] of cases) {
      const e = errorOf(options);
      expect(e).toBeInstanceOf(ConfigError);
      expect([e.setting, e.message]).toEqual([setting, expect.stringMatching(message)]);
    }
  });

  it('names the device a window collides with on the bus', () => {
    const container = createIsolatedContainer();
    register(container);
    const devices = prepareDevices(container, [uart8250({ port: 0xc008 }, 'uart'), pciHost(testDeviceAt5, 'pci')], [X86_PORT_IO_SPACE]);
    const attach = () =>
      attachDevices(container.createChildContainer(), devices, (d) => ({ name: d.name, vcpuId: 0, shared: d.shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: () => undefined }), new AddressBuses([X86_PORT_IO_SPACE]));
    expect(attach).toThrow(ConfigError);
    expect(attach).toThrow("pio[pci.io-window]: device 'pci.io-window' (0xc000..0xffff) overlaps device 'uart' (0xc008..0xc00f) in the pio address space");
  });

  it('accepts a window above 4 GiB for memory BARs', () => {
    const t = machine({ functions: [pciTestDevice({ device: 1 })], mmioWindow: { base: 2 ** 36, size: 2 ** 30 } }).thread(0);
    t.configWrite(cfg(1, 0x18), 0x00100000);
    t.configWrite(cfg(1, 0x1c), 0x10);
    t.configWrite(cfg(1, 0x04), 0x2, 0, 2);
    expect(t.buses.mmio.read(2 ** 36 + 0x100000, 4)).toBe(PCI_TEST_DEVICE_MAGIC);
    // BAR0 decodes at 0 too (memory decode is on, its address never set) but lies outside the window: unmapped.
    expect(t.host.host.decodedBars()).toEqual([
      { index: 0, kind: 'mem32', base: 0, size: 0x1000, function: 'pci-test-device@1.0' },
      { index: 2, kind: 'mem64', base: 2 ** 36 + 0x100000, size: 0x4000, function: 'pci-test-device@1.0' },
    ]);
    expect(t.buses.mmio.read(0, 4)).toBe(-1);
  });
});
