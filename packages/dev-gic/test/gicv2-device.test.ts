import { AddressBuses, ConfigError, IrqLineSwitch, attachDevices, createMachineContainer, findDevicePlugin, loadPlugins, prepareDevices, restoreSharedState, saveSharedState, type Device, type DeviceContext, type HighWord } from '@kvmts/core';
import { ARCH_ARM64_MODULE, PL011_INT, PL011_REG, encodeIrqLine, pl011Plugin, type Pl011 } from '@kvmts/arch-arm64';
import { Gicc, Gicd, GicV2Device, gicV2, gicV2Plugin, type GicV2Options } from '@kvmts/dev-gic';

const IRQ = (vcpu: number) => encodeIrqLine({ type: 'cpu', vcpu, line: 'irq' });
const FIQ = (vcpu: number) => encodeIrqLine({ type: 'cpu', vcpu, line: 'fiq' });
const out: HighWord = { high: 0 };

/**
 * One "thread" of a machine: its interrupt lines (a real IrqLineSwitch over a recorder standing
 * in for KVM_IRQ_LINE, which needs a VM), the GIC instance and a PL011 instance on them.
 */
function thread(vcpuId: number, shared: { gic: SharedArrayBuffer; uart: SharedArrayBuffer }, options: GicV2Options, kvm: [number, boolean][]) {
  const lines = new IrqLineSwitch({ set: (line, level) => kvm.push([line, level]) });
  const ctx = (name: string, buffer: SharedArrayBuffer): DeviceContext => ({
    name,
    vcpuId,
    shared: buffer,
    consoleWrite: () => undefined,
    requestPowerOff: () => undefined,
    setIrqLine: (line, level) => lines.set(line, level),
    claimIrqLines: (controller) => lines.claim(controller, name),
  });
  const gic = gicV2Plugin.create(ctx('gic', shared.gic), options) as GicV2Device;
  const uart = pl011Plugin.create(ctx('uart', shared.uart), {}) as Pl011;
  const dist = gic.forRange('mmio', 0);
  const cpuif = gic.forRange('mmio', 1);
  return {
    gic,
    uart,
    d: { r: (o: number, size: 1 | 4 = 4) => dist.read(o, size, out), w: (o: number, v: number, size: 1 | 4 = 4) => dist.write(o, size, v, 0) },
    c: { r: (o: number) => cpuif.read(o, 4, out), w: (o: number, v: number) => cpuif.write(o, 4, v, 0) },
  };
}

function machine(options: GicV2Options = { cpus: 2, irqs: 64 }) {
  const shared = { gic: new SharedArrayBuffer(gicV2Plugin.sharedLayout!(options).byteLength), uart: new SharedArrayBuffer(pl011Plugin.sharedLayout!({}).byteLength) };
  const kvm: [number, boolean][] = [];
  return { shared, kvm, vcpu0: thread(0, shared, options, kvm), vcpu1: thread(1, shared, options, kvm), main: thread(-1, shared, options, kvm) };
}

describe('GICv2 device: options and placement', () => {
  it('sits at QEMU virt’s GICv2 frames by default, in two MMIO ranges', () => {
    expect(gicV2Plugin.placement({})).toEqual({ mmio: [{ base: 0x0800_0000, size: 0x1000 }, { base: 0x0801_0000, size: 0x2000 }] });
    expect(gicV2Plugin.placement({ distributor: 0x0a00_0000, cpuInterface: 0x0a00_1000 })).toEqual({ mmio: [{ base: 0x0a00_0000, size: 0x1000 }, { base: 0x0a00_1000, size: 0x2000 }] });
    expect(gicV2({ cpus: 2 }, 'gic')).toEqual({ plugin: '@kvmts/dev-gic', type: 'gicv2', name: 'gic', options: { cpus: 2 } });
  });

  it('names the bad option', () => {
    expect(() => gicV2Plugin.validate({ cpu: 2 } as GicV2Options)).toThrow(/gicv2.cpu.*unknown option/);
    expect(() => gicV2Plugin.validate({ distributor: 0x0800_0800 })).toThrow(/gicv2.distributor.*4 KiB-aligned/);
    expect(() => gicV2Plugin.validate({ distributor: -4096 })).toThrow(ConfigError);
    expect(() => gicV2Plugin.validate({ cpuInterface: 0x07ff_f000 })).toThrow(/overlaps the distributor/);
    expect(() => gicV2Plugin.validate({ cpus: 9 })).toThrow(/gic.cpus/);
    expect(() => gicV2Plugin.validate({ irqs: 2000 })).toThrow(/irqs/);
  });

  it('refuses a vCPU the GIC has no CPU interface for', () => {
    const shared = { gic: new SharedArrayBuffer(gicV2Plugin.sharedLayout!({ cpus: 1 }).byteLength), uart: new SharedArrayBuffer(pl011Plugin.sharedLayout!({}).byteLength) };
    expect(() => thread(1, shared, { cpus: 1 }, [])).toThrow(/1 CPU interface\(s\), but the machine has vCPU 1/);
  });

  it('is the only interrupt controller of a thread', () => {
    const lines = new IrqLineSwitch({ set: () => undefined });
    const shared = new SharedArrayBuffer(gicV2Plugin.sharedLayout!({}).byteLength);
    const ctx = (name: string): DeviceContext => ({ name, vcpuId: 0, shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: () => undefined, claimIrqLines: (c) => lines.claim(c, name) });
    gicV2Plugin.create(ctx('gic-a'), {});
    expect(() => gicV2Plugin.create(ctx('gic-b'), {})).toThrow(/'gic-a' already is/);
  });
});

describe('GICv2 device: one GIC across threads', () => {
  it('takes the PL011’s SPI as an input line and drives the target vCPU’s IRQ through KVM_IRQ_LINE (CPU type)', () => {
    const m = machine();
    const { vcpu0, vcpu1 } = m;
    vcpu0.d.w(Gicd.CTLR, 1);
    vcpu1.c.w(Gicc.CTLR, 1);
    vcpu1.c.w(Gicc.PMR, 0xf0);
    vcpu0.d.w(Gicd.IPRIORITYR + 33, 0xa0, 1);
    vcpu0.d.w(Gicd.ITARGETSR + 33, 0b10, 1); // to vCPU 1
    vcpu0.d.w(Gicd.ISENABLER + 4, 1 << 1);
    // The guest on vCPU 0 unmasks the UART's RX interrupt; host input then raises the UART's line.
    vcpu0.uart.write(PL011_REG.IMSC, 4, PL011_INT.RX | PL011_INT.RT, 0);
    expect(m.kvm).toEqual([]);
    m.main.uart.pushInput(new Uint8Array(32));
    expect(m.kvm).toEqual([[IRQ(1), true]]);
    expect(vcpu0.c.r(Gicc.HPPIR)).toBe(1023);
    expect(vcpu1.c.r(Gicc.IAR)).toBe(33);
    expect(m.kvm).toEqual([[IRQ(1), true], [IRQ(1), false]]);
    // Level-sensitive: still pending while the UART holds its line; after EOI it is signalled again.
    vcpu1.c.w(Gicc.EOIR, 33);
    expect(m.kvm.at(-1)).toEqual([IRQ(1), true]);
    expect(vcpu1.c.r(Gicc.IAR)).toBe(33);
    // The guest drains the FIFO: the UART drops its line; EOI leaves nothing pending.
    for (let i = 0; i < 32; i++) vcpu1.uart.read(PL011_REG.DR, 4, out);
    vcpu1.c.w(Gicc.EOIR, 33);
    expect(m.kvm.at(-1)).toEqual([IRQ(1), false]);
    expect(vcpu1.c.r(Gicc.IAR)).toBe(1023);
  });

  it('drives FIQ for Group 0 with FIQEn, and SGIs between vCPUs', () => {
    const m = machine();
    m.vcpu0.d.w(Gicd.CTLR, 1);
    m.vcpu1.c.w(Gicc.CTLR, 0b1001);
    m.vcpu1.c.w(Gicc.PMR, 0xf0);
    m.vcpu0.d.w(Gicd.SGIR, (0b10 << 16) | 7);
    expect(m.kvm).toEqual([[FIQ(1), true]]);
    expect(m.vcpu1.c.r(Gicc.IAR)).toBe(7);
    expect(m.kvm.at(-1)).toEqual([FIQ(1), false]);
  });

  it('the host raises an SPI through the main thread’s instance', () => {
    const m = machine();
    m.vcpu0.d.w(Gicd.CTLR, 1);
    m.vcpu0.c.w(Gicc.CTLR, 1);
    m.vcpu0.c.w(Gicc.PMR, 0xf0);
    m.vcpu0.d.w(Gicd.ITARGETSR + 40, 1, 1);
    m.vcpu0.d.w(Gicd.ISENABLER + 4, 1 << 8);
    m.main.gic.setLevel(40, true);
    expect(m.kvm).toEqual([[IRQ(0), true]]);
    expect(() => m.main.gic.setLevel(64, true)).toThrow(/INTIDs 16–63/);
  });

  it('reads ITARGETSR0 as the accessing vCPU’s own bit, and RAZ/WI for 8-byte accesses', () => {
    const m = machine();
    expect([m.vcpu0.d.r(Gicd.ITARGETSR), m.vcpu1.d.r(Gicd.ITARGETSR)]).toEqual([0x01010101, 0x02020202]);
    const dist: Device = m.vcpu0.gic.forRange('mmio', 0);
    const high: HighWord = { high: 7 };
    expect(dist.read(Gicd.TYPER, 8, high)).toBe(0);
    expect(high.high).toBe(0);
  });

  it('after a restore into a new machine, drives every output to its restored level', () => {
    const a = machine();
    a.vcpu0.d.w(Gicd.CTLR, 1);
    a.vcpu0.c.w(Gicc.CTLR, 1);
    a.vcpu0.c.w(Gicc.PMR, 0xf0);
    a.vcpu0.d.w(Gicd.ISPENDR + 4, 1 << 8);
    a.vcpu0.d.w(Gicd.ISENABLER + 4, 1 << 8);
    a.vcpu0.d.w(Gicd.ITARGETSR + 40, 1, 1);
    const saved = saveSharedState(gicV2Plugin.sharedLayout!({ cpus: 2, irqs: 64 }), a.shared.gic);
    const b = machine();
    restoreSharedState(gicV2Plugin.sharedLayout!({ cpus: 2, irqs: 64 }), b.shared.gic, saved);
    b.main.gic.afterRestore();
    expect(b.kvm).toEqual([[IRQ(0), true], [FIQ(0), false], [IRQ(1), false], [FIQ(1), false]]);
    expect(b.vcpu0.c.r(Gicc.IAR)).toBe(40);
  });
});

describe('GICv2 device: composition', () => {
  it('is registered by the package’s module entry and composed by core like any device, with two MMIO ranges', () => {
    const container = createMachineContainer();
    loadPlugins(container, [ARCH_ARM64_MODULE, '@kvmts/dev-gic']);
    expect(findDevicePlugin(container, 'gicv2')).toBe(gicV2Plugin);
    const [prepared] = prepareDevices(container, [gicV2({ cpus: 2 }, 'gic')], []);
    expect(prepared.name).toBe('gic');
    expect(prepared.shared.byteLength).toBe(gicV2Plugin.sharedLayout!({ cpus: 2 }).byteLength);
    const buses = new AddressBuses([]);
    const kvm: [number, boolean][] = [];
    const lines = new IrqLineSwitch({ set: (line, level) => kvm.push([line, level]) });
    attachDevices(container, [prepared], (d) => ({ name: d.name, vcpuId: 1, shared: d.shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: (l, v) => lines.set(l, v), claimIrqLines: (c) => lines.claim(c, d.name) }), buses);
    const mmio = buses.require('mmio', 'test');
    // GICD_TYPER through the bus at the distributor's base, GICC_IIDR at the CPU interface's.
    expect(mmio.read(0x0800_0004, 4)).toBe(0x20 | 3); // 2 CPUs, 128 INTIDs
    expect(mmio.read(0x0801_00fc, 4)).toBe(0x0202143b);
    expect(mmio.read(0x0800_0800, 4)).toBe(0x02020202); // as vCPU 1
  });
});
