/**
 * The arch-neutral PCI host: functions from plugins registered in a container (a third-party
 * function type here, beside the test device), each function's own shared state inside the
 * host's buffer, BAR decode behind the windows shared by two host instances (two threads),
 * what stays unmapped (outside a window, overlapping), reset, and checkpoint restore.
 */
import {
  AddressBus,
  ConfigError,
  PCI_FUNCTION_PLUGIN,
  PCI_TEST_DEVICE_MAGIC,
  PciHost,
  createIsolatedContainer,
  defineSharedLayout,
  pciHostLayout,
  pciTestDevice,
  pciTestDevicePlugin,
  resolvePciFunctions,
  restoreSharedState,
  saveSharedState,
  type AccessSize,
  type Device,
  type HighWord,
  type PciFunctionPlugin,
  type PciFunctionSpec,
} from '@kvmts/core';

/** A third-party function: one 32-bit counter in BAR0 (16 bytes, mem32) that every read increments. */
const COUNTER_LAYOUT = defineSharedLayout({ name: 'counter', version: 1, fields: { lock: 'lock', count: 'u32' } });
const counterPlugin: PciFunctionPlugin<Record<string, never>> = {
  type: 'counter',
  validate: () => undefined,
  describe: () => ({ vendorId: 0x1234, deviceId: 0x0001, classCode: 0x058000, bars: [{ kind: 'mem32', size: 16 }] }),
  sharedLayout: () => COUNTER_LAYOUT,
  create(ctx) {
    const s = ctx.bindShared(COUNTER_LAYOUT);
    const bar: Device = {
      name: `${ctx.name}.bar0`,
      read(_offset: number, _size: AccessSize, _out: HighWord) {
        s.lock.acquire();
        const v = s.count;
        s.count = v + 1;
        s.lock.release();
        return v;
      },
      write(_offset: number, _size: AccessSize, value: number) {
        s.lock.acquire();
        s.count = value;
        s.lock.release();
      },
    };
    return { bars: [bar], reset: () => (s.count = 0) };
  },
};

const WINDOWS = { mmioWindow: { base: 0x10000000, size: 0x1000000 }, ioWindow: { base: 0x1000, size: 0x1000 } };

/** An arch's INTx routing for the tests: pin p of device d → line 5 or 6 by (d + p − 1) mod 2. */
const route = (device: number, pin: number) => [5, 6][(device + pin - 1) % 2];

function hosts(functions: PciFunctionSpec[], irq?: { route: (device: number, pin: number) => number | undefined; lines: [number, boolean][] }) {
  const container = createIsolatedContainer();
  container.register(PCI_FUNCTION_PLUGIN, { useValue: pciTestDevicePlugin });
  container.register(PCI_FUNCTION_PLUGIN, { useValue: counterPlugin });
  const resolved = resolvePciFunctions(container, functions, 'functions');
  const layout = pciHostLayout(resolved);
  const shared = new SharedArrayBuffer(layout.byteLength);
  const make = (vcpuId: number) => {
    const host = new PciHost({
      name: 'pci',
      vcpuId,
      shared,
      functions: resolved,
      ...WINDOWS,
      ...(irq ? { interruptLine: irq.route, setIrqLine: (line: number, level: boolean) => irq.lines.push([line, level]) } : {}),
    });
    const mmio = new AddressBus({ name: 'mmio', limit: 2 ** 32 });
    mmio.attach(WINDOWS.mmioWindow, host.windowDevice('mmio'));
    const io = new AddressBus({ name: 'io', limit: 0x10000 });
    io.attach(WINDOWS.ioWindow, host.windowDevice('io'));
    return { host, mmio, io };
  };
  return { layout, shared, make };
}

const counterAt = (device: number): PciFunctionSpec => ({ type: 'counter', device, options: {} });
const BAR0 = 0x10;
const COMMAND = 0x04;

describe('PCI host', () => {
  it('gives each function its own shared state, the same on every thread', () => {
    const { make } = hosts([pciTestDevice({ device: 0 }), counterAt(1), counterAt(2)]);
    const a = make(0);
    const b = make(1);
    a.host.configWrite(0, 1, 0, BAR0, 4, 0x10000000);
    a.host.configWrite(0, 2, 0, BAR0, 4, 0x10000010);
    a.host.configWrite(0, 1, 0, COMMAND, 2, 0x2);
    a.host.configWrite(0, 2, 0, COMMAND, 2, 0x2);
    expect([a.mmio.read(0x10000000, 4), b.mmio.read(0x10000000, 4), a.mmio.read(0x10000000, 4)]).toEqual([0, 1, 2]);
    expect(b.mmio.read(0x10000010, 4)).toBe(0); // the second counter is another function
    expect(b.host.configRead(0, 1, 0, 0x00, 4)).toBe(0x00011234);
    expect(b.host.configRead(0, 1, 0, 0x08, 4)).toBe(0x05800000);
    expect([a.host.functionAt(0, 0), a.host.functionAt(2, 0), a.host.functionAt(3, 0)]).toEqual(['pci-test-device@0.0', 'counter@2.0', undefined]);
  });

  it('maps only BARs wholly inside their window; of two overlapping BARs the first keeps the range', () => {
    const { make } = hosts([counterAt(1), counterAt(2)]);
    const a = make(0);
    a.host.configWrite(0, 1, 0, COMMAND, 2, 0x2);
    a.host.configWrite(0, 2, 0, COMMAND, 2, 0x2);
    a.host.configWrite(0, 1, 0, BAR0, 4, 0x20000000); // outside the window
    expect(a.mmio.read(0x20000000, 4)).toBe(-1); // nothing on the bus at all there
    a.host.configWrite(0, 1, 0, BAR0, 4, 0x10000100);
    a.host.configWrite(0, 2, 0, BAR0, 4, 0x10000100); // the same range
    a.mmio.write(0x10000100, 4, 41, 0);
    expect(a.mmio.read(0x10000100, 4)).toBe(41);
    // The guest resolves the conflict by moving the first: now the second answers there.
    a.host.configWrite(0, 1, 0, BAR0, 4, 0x10000200);
    expect(a.mmio.read(0x10000100, 4)).toBe(0);
    expect(a.mmio.read(0x10000200, 4)).toBe(42);
  });

  it('master-aborts (all-ones, writes dropped) where the window has no BAR, counting them', () => {
    const { make } = hosts([pciTestDevice({ device: 0 })]);
    const a = make(0);
    expect(a.mmio.read(0x10000000, 8)).toBe(0xffffffff);
    expect(a.mmio.high.high).toBe(0xffffffff);
    expect(a.io.read(0x1000, 2)).toBe(0xffffffff);
    expect(a.mmio.write(0x10000000, 4, 1, 0)).toBe(true); // claimed by the window, dropped behind it
    expect(a.host.masterAborts).toBe(3);
  });

  it('serves 8-byte accesses through a mem64 BAR with both halves', () => {
    const { make } = hosts([pciTestDevice({ device: 0 })]);
    const a = make(0);
    a.host.configWrite(0, 0, 0, 0x18, 4, 0x10004000);
    a.host.configWrite(0, 0, 0, 0x1c, 4, 0);
    a.host.configWrite(0, 0, 0, COMMAND, 2, 0x2);
    a.mmio.write(0x10004008, 8, 0x55667788, 0x11223344);
    expect(a.mmio.read(0x10004008, 8)).toBe(0x55667788);
    expect(a.mmio.high.high).toBe(0x11223344);
    expect(a.mmio.read(0x10004000, 8)).toBe(PCI_TEST_DEVICE_MAGIC);
    expect(a.mmio.high.high).toBe(0);
    // The register file repeats every 256 bytes of the BAR; its magic is read-only.
    a.mmio.write(0x10004100, 4, 0, 0);
    expect(a.mmio.read(0x1000410c, 4)).toBe(0x11223344);
    expect(a.mmio.read(0x10004100, 4)).toBe(PCI_TEST_DEVICE_MAGIC);
  });

  it('resets config space and functions on every thread', () => {
    const { make } = hosts([counterAt(1)]);
    const a = make(0);
    const b = make(1);
    a.host.configWrite(0, 1, 0, BAR0, 4, 0x10000000);
    a.host.configWrite(0, 1, 0, COMMAND, 2, 0x2);
    a.host.configAddress = 0x80000800;
    expect(b.mmio.read(0x10000000, 4)).toBe(0);
    b.host.reset();
    expect([a.host.configRead(0, 1, 0, BAR0, 4), a.host.configRead(0, 1, 0, COMMAND, 2), a.host.configAddress]).toEqual([0, 0, 0]);
    expect(a.mmio.read(0x10000000, 4)).toBe(0xffffffff);
  });

  it('restores config space and function state from a checkpoint; afterRestore makes every thread decode it', () => {
    const source = hosts([counterAt(1)]);
    const s = source.make(0);
    s.host.configWrite(0, 1, 0, BAR0, 4, 0x10000040);
    s.host.configWrite(0, 1, 0, COMMAND, 2, 0x2);
    s.mmio.write(0x10000040, 4, 7, 0);
    const saved = saveSharedState(source.layout, source.shared);
    expect(saved.layout).toBe('pci-host[1.0:counter/counterv1]');

    const target = hosts([counterAt(1)]);
    const t0 = target.make(0);
    const t1 = target.make(1);
    // Two config writes that map nothing: the target's generation now equals the saved one.
    t0.host.configWrite(0, 1, 0, 0x3c, 1, 5);
    t0.host.configWrite(0, 1, 0, 0x3c, 1, 0);
    expect(t1.mmio.read(0x10000040, 4)).toBe(0xffffffff); // t1 has built its (empty) decode
    restoreSharedState(target.layout, target.shared, saved);
    expect(t1.mmio.read(0x10000040, 4)).toBe(0xffffffff); // same generation: t1 cannot tell
    t0.host.afterRestore();
    expect(t1.mmio.read(0x10000040, 4)).toBe(7);
    // A host with other functions has another layout: the checkpoint does not restore into it.
    const other = hosts([counterAt(2)]);
    expect(() => restoreSharedState(other.layout, other.shared, saved)).toThrow(/pci-host/);
  });

  it('names the function type nobody registered, with the registered ones', () => {
    const container = createIsolatedContainer();
    container.register(PCI_FUNCTION_PLUGIN, { useValue: counterPlugin });
    expect(() => resolvePciFunctions(container, [pciTestDevice({ device: 0 })], 'fns')).toThrow(ConfigError);
    expect(() => resolvePciFunctions(container, [pciTestDevice({ device: 0 })], 'fns')).toThrow("fns[0].type: no PCI function plugin of type 'pci-test-device' (registered: counter)");
  });
});

describe('PCI INTx', () => {
  const STATUS = 0x06;
  const LINE = 0x3c;
  /** The test device's interrupt register through BAR0 of device `d` (BAR0 at 0x10000000 + d·0x1000). */
  const setup = () => {
    const lines: [number, boolean][] = [];
    const { make, layout, shared } = hosts([pciTestDevice({ device: 1 }), pciTestDevice({ device: 2 }), pciTestDevice({ device: 3 })], { route, lines });
    const a = make(0);
    const b = make(1);
    for (const d of [1, 2, 3]) {
      a.host.configWrite(0, d, 0, BAR0, 4, 0x10000000 + d * 0x1000);
      a.host.configWrite(0, d, 0, COMMAND, 2, 0x2);
    }
    const intx = (t: typeof a, d: number, level: 0 | 1) => t.mmio.write(0x10000004 + d * 0x1000, 4, level, 0);
    return { a, b, lines, intx, layout, shared };
  };

  it('presets each function\'s interrupt-line register to its route; the pin is read-only', () => {
    const { a } = setup();
    expect([1, 2, 3].map((d) => a.host.configRead(0, d, 0, LINE, 2))).toEqual([0x0106, 0x0105, 0x0106]);
    // Without an arch route the register says "unknown" (0xff).
    const unrouted = hosts([pciTestDevice({ device: 1 })]).make(0);
    expect(unrouted.host.configRead(0, 1, 0, LINE, 1)).toBe(0xff);
  });

  it('ORs the functions sharing a line and drives it only when the OR changes; status bit 3 shows each pin', () => {
    const { a, b, lines, intx } = setup();
    intx(a, 1, 1);
    expect(lines).toEqual([[6, true]]);
    expect(b.host.configRead(0, 1, 0, STATUS, 2)).toBe(0x0008);
    intx(b, 3, 1); // same line, already high
    intx(a, 1, 0); // device 3 still holds it
    expect(lines).toEqual([[6, true]]);
    expect([b.host.configRead(0, 1, 0, STATUS, 2), b.host.configRead(0, 3, 0, STATUS, 2)]).toEqual([0, 0x0008]);
    intx(a, 2, 1);
    intx(b, 3, 0);
    expect(lines).toEqual([[6, true], [5, true], [6, false]]);
    // Writing the status register (even all-ones) does not clear the read-only interrupt bit.
    a.host.configWrite(0, 2, 0, STATUS, 2, 0xffff);
    expect(a.host.configRead(0, 2, 0, STATUS, 2)).toBe(0x0008);
  });

  it('masks a function whose command register sets interrupt-disable, and unmasks it', () => {
    const { a, b, lines, intx } = setup();
    intx(a, 1, 1);
    b.host.configWrite(0, 1, 0, COMMAND, 2, 0x0402);
    expect(b.host.configRead(0, 1, 0, STATUS, 2)).toBe(0x0008); // still pending, just masked
    intx(a, 1, 0);
    intx(a, 1, 1); // masked: no change reaches the line
    b.host.configWrite(0, 1, 0, COMMAND, 2, 0x0002);
    expect(lines).toEqual([[6, true], [6, false], [6, true]]);
  });

  it('reset drops every pin and line and presets the line registers again; afterRestore drives the restored levels', () => {
    const { a, b, lines, intx, layout, shared } = setup();
    intx(a, 2, 1);
    a.host.configWrite(0, 2, 0, LINE, 1, 0x33);
    const saved = saveSharedState(layout, shared);
    lines.length = 0;
    b.host.reset();
    expect(lines).toContainEqual([5, false]);
    expect(lines.filter(([, level]) => level)).toEqual([]);
    expect([a.host.configRead(0, 2, 0, STATUS, 2), a.host.configRead(0, 2, 0, LINE, 1)]).toEqual([0, 5]);
    lines.length = 0;
    restoreSharedState(layout, shared, saved);
    a.host.afterRestore();
    expect(lines.sort()).toEqual([[5, true], [6, false]]);
    expect(a.host.configRead(0, 2, 0, LINE, 1)).toBe(0x33); // the guest's value, restored
  });
});

describe('SharedLayout.bind at an offset', () => {
  it('binds a layout inside a larger buffer at a multiple of 4, and rejects offsets that do not fit', () => {
    const layout = defineSharedLayout({ name: 'x', version: 1, fields: { lock: 'lock', a: 'u32', b: 'u8', bytes: { bytes: 3 } } });
    const buffer = new SharedArrayBuffer(8 + layout.byteLength);
    const s = layout.bind(buffer, 8);
    s.a = 0xdeadbeef;
    s.b = 0x12;
    s.bytes.set([1, 2, 3]);
    expect([...new Uint8Array(buffer)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 0x12, 1, 2, 3]);
    expect(() => layout.bind(buffer, 2)).toThrow(ConfigError);
    expect(() => layout.bind(buffer, 12)).toThrow(/byteOffset 12 must be a multiple of 4 leaving 12 bytes in a buffer of 20/);
    expect(() => layout.bind(buffer)).toThrow(/buffer is 20 bytes/);
  });
});
