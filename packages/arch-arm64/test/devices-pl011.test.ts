import { ConfigError, restoreSharedState, saveSharedState, type DeviceContext, type HighWord } from '@kvmts/core';
import { PL011_FR, PL011_INT, PL011_REG as R, Pl011, encodeIrqLine, pl011, pl011Plugin, pl011PushInput, type Pl011Options } from '../src';

interface Harness {
  ctx: DeviceContext;
  console: number[];
  irq: [number, boolean][];
  /** How many bytes had been written when each console flush came. */
  flushes: number[];
}

function make(options: Pl011Options = {}, shared?: SharedArrayBuffer): { uart: Pl011; h: Harness } {
  pl011Plugin.validate(options);
  const h: Harness = { console: [], irq: [], flushes: [], ctx: undefined as unknown as DeviceContext };
  h.ctx = {
    name: 'pl011@0x9000000',
    vcpuId: 0,
    shared: shared ?? new SharedArrayBuffer(pl011Plugin.sharedLayout!(options).byteLength),
    consoleWrite: (b) => h.console.push(b),
    consoleFlush: () => h.flushes.push(h.console.length),
    requestPowerOff: () => undefined,
    setIrqLine: (line, level) => h.irq.push([line, level]),
  };
  return { uart: pl011Plugin.create(h.ctx, options) as Pl011, h };
}

const out: HighWord = { high: 0 };
const rd = (u: Pl011, reg: number, size: 1 | 2 | 4 = 4): number => u.read(reg, size, out);
const wr = (u: Pl011, reg: number, v: number, size: 1 | 2 | 4 = 4): void => u.write(reg, size, v, 0);
const SPI1 = encodeIrqLine({ type: 'spi', intid: 33 });

describe('PL011 registers', () => {
  it('powers on with TX and RX enabled, both FIFOs empty, no interrupt', () => {
    const { uart } = make();
    expect(rd(uart, R.FR)).toBe(PL011_FR.TXFE | PL011_FR.RXFE);
    expect(rd(uart, R.CR)).toBe(0x300);
    expect(rd(uart, R.IFLS)).toBe(0x12);
    expect(rd(uart, R.RIS)).toBe(0);
  });

  it('identifies itself to the AMBA bus as a PL011 PrimeCell', () => {
    const { uart } = make();
    const id = [0xfe0, 0xfe4, 0xfe8, 0xfec, 0xff0, 0xff4, 0xff8, 0xffc].map((o) => rd(uart, o));
    expect(id).toEqual([0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
  });

  it('sends DR bytes to the console, with 16-bit accesses as Linux makes them', () => {
    const { uart, h } = make();
    for (const c of 'ok\n') wr(uart, R.DR, c.charCodeAt(0), 2);
    expect(String.fromCharCode(...h.console)).toBe('ok\n');
    wr(uart, R.IBRD, 0x1234, 2);
    expect(rd(uart, R.IBRD, 2)).toBe(0x1234);
    expect(rd(uart, R.IBRD + 1, 1)).toBe(0x12);
  });

  it('raises its SPI while unmasked RX data waits, and lowers it when the data is read', () => {
    const { uart, h } = make({ spi: 1 });
    wr(uart, R.IMSC, PL011_INT.RX | PL011_INT.RT);
    expect(uart.pushInput(new Uint8Array([0x61, 0x62]))).toBe(2);
    expect(h.irq).toEqual([[SPI1, true]]);
    expect(uart.interruptAsserted()).toBe(true);
    expect(rd(uart, R.MIS)).toBe(PL011_INT.RX);
    expect(rd(uart, R.FR) & PL011_FR.RXFE).toBe(0);
    expect([rd(uart, R.DR), rd(uart, R.DR)]).toEqual([0x61, 0x62]);
    expect(h.irq).toEqual([[SPI1, true], [SPI1, false]]);
    expect(rd(uart, R.DR)).toBe(0);
  });

  it('latches the TX interrupt on a write until ICR clears it', () => {
    const { uart, h } = make({ spi: 1 });
    wr(uart, R.IMSC, PL011_INT.TX);
    wr(uart, R.DR, 0x41);
    expect(h.irq).toEqual([[SPI1, true]]);
    wr(uart, R.ICR, PL011_INT.TX);
    expect(rd(uart, R.RIS)).toBe(0);
    expect(h.irq).toEqual([[SPI1, true], [SPI1, false]]);
  });

  it('loops DR back into the receive FIFO with CR.LBE', () => {
    const { uart, h } = make();
    wr(uart, R.CR, 0x380);
    wr(uart, R.DR, 0x5a);
    expect(h.console).toEqual([]);
    expect(rd(uart, R.DR)).toBe(0x5a);
  });

  it('is one UART across instances on the same shared state, and host input needs no instance', () => {
    const { uart: a, h } = make();
    const { uart: b } = make({}, h.ctx.shared);
    wr(a, R.IMSC, PL011_INT.RX);
    expect(rd(b, R.IMSC)).toBe(PL011_INT.RX);
    expect(pl011PushInput(h.ctx.shared, new Uint8Array([7]))).toBe(1);
    expect(rd(b, R.DR)).toBe(7);
  });

  it('saves and restores its shared state, and drives the restored level', () => {
    const { uart, h } = make({ spi: 1 });
    wr(uart, R.IMSC, PL011_INT.RX);
    uart.pushInput(new Uint8Array([1]));
    const saved = saveSharedState(pl011Plugin.sharedLayout!({}), h.ctx.shared);
    const { uart: copy, h: h2 } = make({ spi: 1 });
    restoreSharedState(pl011Plugin.sharedLayout!({}), h2.ctx.shared, saved);
    copy.afterRestore();
    expect(h2.irq).toEqual([[SPI1, true]]);
    expect(rd(copy, R.DR)).toBe(1);
  });

  it('checks its options and is placed on the MMIO bus', () => {
    expect(pl011Plugin.placement({})).toEqual({ mmio: [{ base: 0x0900_0000, size: 0x1000 }] });
    expect(() => pl011Plugin.validate({ base: 0x0900_0800 })).toThrow(ConfigError);
    expect(() => pl011Plugin.validate({ spi: 988 })).toThrow(/pl011\.spi/);
    expect(() => pl011Plugin.validate({ rxQueueBytes: 100 })).toThrow(/power of two/);
    expect(() => pl011Plugin.validate({ port: 1 } as Pl011Options)).toThrow(/pl011\.port: unknown option/);
    expect(pl011({ spi: null })).toEqual({ plugin: '@kvmts/arch-arm64', type: 'pl011', options: { spi: null } });
    const { uart, h } = make({ spi: null });
    uart.pushInput(new Uint8Array([1]));
    wr(uart, R.IMSC, PL011_INT.RX);
    expect(h.irq).toEqual([]);
  });
});

describe('PL011 console flush', () => {
  it('asks for a flush when the guest writes IMSC (its driver starting or stopping transmission), after the bytes', () => {
    const { uart, h } = make();
    wr(uart, R.IMSC, PL011_INT.TX);
    for (const c of Buffer.from('/ # ')) wr(uart, R.DR, c);
    expect(h.flushes).toEqual([0]);
    wr(uart, R.IMSC, 0);
    expect(h.flushes).toEqual([0, 4]);
    expect(Buffer.from(h.console).toString('latin1')).toBe('/ # ');
  });
});
