import { CheckpointError, ConfigError, restoreSharedState, saveSharedState, type DeviceContext, type HighWord } from '@kvmts/core';
import {
  uart8250,
  Uart8250,
  uart8250Plugin,
  uartPushInput,
  UART_REG as R,
  type Uart8250Options,
} from '../src/devices';

/** A machine's side of the device contract, recorded: console bytes, IRQ edges, power-off requests. */
interface Harness {
  ctx: DeviceContext;
  console: number[];
  irq: [number, boolean][];
  /** How many bytes had been written when each console flush came. */
  flushes: number[];
}

function makeContext(options: Uart8250Options = {}, shared?: SharedArrayBuffer): Harness {
  const h: Harness = { console: [], irq: [], flushes: [], ctx: undefined as unknown as DeviceContext };
  h.ctx = {
    name: 'uart8250@0x3f8',
    vcpuId: 0,
    shared: shared ?? new SharedArrayBuffer(uart8250Plugin.sharedLayout!(options).byteLength),
    consoleWrite: (b) => h.console.push(b),
    consoleFlush: () => h.flushes.push(h.console.length),
    requestPowerOff: () => undefined,
    setIrqLine: (line, level) => h.irq.push([line, level]),
  };
  return h;
}

function make(options: Uart8250Options = {}, shared?: SharedArrayBuffer): { uart: Uart8250; h: Harness } {
  uart8250Plugin.validate(options);
  const h = makeContext(options, shared);
  return { uart: uart8250Plugin.create(h.ctx, options) as Uart8250, h };
}

const out: HighWord = { high: 0 };
const rd = (u: Uart8250, reg: number): number => u.read(reg, 1, out);
const wr = (u: Uart8250, reg: number, v: number): void => u.write(reg, 1, v, 0);

describe('uart8250 registers', () => {
  it('idles like a 16550A: LSR 0x60, no interrupt, MCR.OUT2, MSR DCD|DSR|CTS', () => {
    const { uart } = make();
    expect(rd(uart, R.LSR)).toBe(0x60);
    expect(rd(uart, R.IIR_FCR)).toBe(0x01);
    expect(rd(uart, R.MCR)).toBe(0x08);
    expect(rd(uart, R.MSR)).toBe(0xb0);
    expect(rd(uart, R.LCR)).toBe(0);
  });

  it('passes the Linux IER probe and reports a 16550A once FIFOs are enabled', () => {
    const { uart } = make();
    wr(uart, R.IER_DLM, 0);
    expect(rd(uart, R.IER_DLM)).toBe(0);
    wr(uart, R.IER_DLM, 0x0f);
    expect(rd(uart, R.IER_DLM)).toBe(0x0f);
    wr(uart, R.IER_DLM, 0xff);
    expect(rd(uart, R.IER_DLM)).toBe(0x0f);
    wr(uart, R.IER_DLM, 0);
    wr(uart, R.IIR_FCR, 0x01);
    expect(rd(uart, R.IIR_FCR) >> 6).toBe(3);
  });

  it('sends THR bytes to the console', () => {
    const { uart, h } = make();
    for (const c of Buffer.from('hi\n')) wr(uart, R.RBR_THR_DLL, c);
    expect(Buffer.from(h.console).toString()).toBe('hi\n');
    expect(rd(uart, R.LSR)).toBe(0x60);
  });

  it('maps offsets 0 and 1 to the divisor latch while LCR.DLAB is set', () => {
    const { uart, h } = make();
    expect(rd(uart, R.LCR)).toBe(0);
    wr(uart, R.LCR, 0x80);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x0c);
    wr(uart, R.RBR_THR_DLL, 0x01);
    wr(uart, R.IER_DLM, 0x02);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x01);
    expect(rd(uart, R.IER_DLM)).toBe(0x02);
    wr(uart, R.LCR, 0x03);
    expect(rd(uart, R.IER_DLM)).toBe(0); // IER untouched by the DLM write
    wr(uart, R.RBR_THR_DLL, 0x41);
    expect(h.console).toEqual([0x41]);
  });

  it('keeps the scratch register', () => {
    const { uart } = make();
    wr(uart, R.SCR, 0xa5);
    expect(rd(uart, R.SCR)).toBe(0xa5);
  });

  it('splits a 2-byte access into byte accesses, as the ISA bus does', () => {
    const { uart } = make();
    uart.write(R.LCR, 2, 0x5a03, 0); // LCR = 0x03, MCR = 0x5a & 0x1f
    expect(uart.read(R.LCR, 2, out)).toBe(0x1a03);
  });
});

describe('uart8250 THRE interrupt', () => {
  it('follows the sequence Linux uses to rule out UART_BUG_THRE', () => {
    const { uart } = make();
    wr(uart, R.IER_DLM, 0x02);
    expect(rd(uart, R.IIR_FCR)).toBe(0x02);
    expect(rd(uart, R.IIR_FCR)).toBe(0x01); // reading IIR acknowledged it
    wr(uart, R.IER_DLM, 0);
    wr(uart, R.IER_DLM, 0x02);
    expect(rd(uart, R.IIR_FCR)).toBe(0x02); // re-enabling re-asserts it
  });

  it("passes Linux's UART_BUG_TXEN check and gives interrupt-driven transmit one edge per batch, received data first", () => {
    const { uart, h } = make({ irq: 4 });
    // serial8250_do_startup: IER = THRI, LSR, IIR must not say "no interrupt", IER = 0.
    wr(uart, R.IER_DLM, 0x02);
    expect(rd(uart, R.LSR) & 0x40).toBe(0x40);
    expect(rd(uart, R.IIR_FCR) & 0x01).toBe(0);
    wr(uart, R.IER_DLM, 0);
    h.irq.length = 0;
    // The tty layer's start_tx sets THRI; each interrupt the handler reads IIR, then fills the FIFO.
    wr(uart, R.IIR_FCR, 0x01);
    wr(uart, R.IER_DLM, 0x03);
    expect(h.irq).toEqual([[4, true]]);
    expect(rd(uart, R.IIR_FCR)).toBe(0xc2);
    for (let i = 0; i < 16; i++) wr(uart, R.RBR_THR_DLL, 0x41 + i);
    expect(h.irq).toEqual([[4, true], [4, false], [4, true]]);
    // Input arriving meanwhile outranks THRE in IIR; stop_tx (IER = RDI only) leaves the RX cause.
    uart.pushInput(Uint8Array.of(0x0d));
    expect(rd(uart, R.IIR_FCR)).toBe(0xc4);
    wr(uart, R.IER_DLM, 0x01);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x0d);
    expect(rd(uart, R.IIR_FCR)).toBe(0xc1);
    expect(h.irq.at(-1)).toEqual([4, false]);
    expect(h.console).toHaveLength(16);
  });

  it('re-asserts after each THR write (transmission is instantaneous)', () => {
    const { uart } = make();
    wr(uart, R.IER_DLM, 0x02);
    rd(uart, R.IIR_FCR);
    wr(uart, R.RBR_THR_DLL, 0x41);
    expect(rd(uart, R.IIR_FCR)).toBe(0x02);
  });

  it('drives the IRQ line on changes only, gated by MCR.OUT2', () => {
    const { uart, h } = make({ irq: 4 });
    wr(uart, R.IER_DLM, 0x02);
    expect(h.irq).toEqual([[4, true]]);
    wr(uart, R.SCR, 1);
    expect(h.irq).toEqual([[4, true]]);
    rd(uart, R.IIR_FCR);
    expect(h.irq).toEqual([[4, true], [4, false]]);
    wr(uart, R.MCR, 0x00);
    wr(uart, R.RBR_THR_DLL, 0x41);
    expect(h.irq).toEqual([[4, true], [4, false]]);
    wr(uart, R.MCR, 0x08);
    expect(h.irq).toEqual([[4, true], [4, false], [4, true]]);
  });

  it('never touches the IRQ line without an irq option', () => {
    const { uart, h } = make();
    wr(uart, R.IER_DLM, 0x0f);
    expect(h.irq).toEqual([]);
  });
});

describe('uart8250 receive path', () => {
  it('queues host bytes for RBR with DR and the RX-data interrupt', () => {
    const { uart, h } = make({ irq: 4 });
    expect(uartPushInput(h.ctx.shared, Buffer.from('ab'))).toBe(2);
    expect(rd(uart, R.LSR)).toBe(0x61);
    wr(uart, R.IER_DLM, 0x01);
    expect(h.irq).toEqual([[4, true]]);
    expect(rd(uart, R.IIR_FCR)).toBe(0x04);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x61);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x62);
    expect(rd(uart, R.LSR)).toBe(0x60);
    expect(rd(uart, R.IIR_FCR)).toBe(0x01);
    expect(h.irq).toEqual([[4, true], [4, false]]);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0); // empty
  });

  it('raises the RX interrupt at once when the device instance is given the input', () => {
    const { uart, h } = make({ irq: 4 });
    wr(uart, R.IER_DLM, 0x01);
    expect(uart.pushInput(Buffer.from('x'))).toBe(1);
    expect(h.irq).toEqual([[4, true]]);
  });

  it('drops bytes beyond the queue and reports the overrun once in LSR', () => {
    const { uart, h } = make({ rxQueueBytes: 16 });
    expect(uartPushInput(h.ctx.shared, new Uint8Array(20).fill(7))).toBe(16);
    expect(rd(uart, R.LSR)).toBe(0x63); // DR | OE | THRE | TEMT
    expect(rd(uart, R.LSR)).toBe(0x61); // OE cleared by the read
  });

  it('ranks a line-status interrupt above received data', () => {
    const { uart, h } = make({ rxQueueBytes: 16 });
    uartPushInput(h.ctx.shared, new Uint8Array(17));
    wr(uart, R.IER_DLM, 0x05);
    expect(rd(uart, R.IIR_FCR)).toBe(0x06);
    rd(uart, R.LSR);
    expect(rd(uart, R.IIR_FCR)).toBe(0x04);
  });

  it('empties the receive queue on FCR.CLEAR_RX', () => {
    const { uart, h } = make();
    uartPushInput(h.ctx.shared, Buffer.from('abc'));
    wr(uart, R.IIR_FCR, 0x03);
    expect(rd(uart, R.LSR)).toBe(0x60);
    expect(rd(uart, R.IIR_FCR)).toBe(0xc1);
  });

  it('keeps order across the ring wrap-around', () => {
    const { uart, h } = make({ rxQueueBytes: 16 });
    const got: number[] = [];
    for (let round = 0; round < 5; round++) {
      uartPushInput(h.ctx.shared, Uint8Array.from({ length: 10 }, (_, i) => round * 10 + i));
      for (let i = 0; i < 10; i++) got.push(rd(uart, R.RBR_THR_DLL));
    }
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('uart8250 loopback', () => {
  it('passes the Linux loopback probe and echoes THR into RBR instead of the console', () => {
    const { uart, h } = make();
    wr(uart, R.MCR, 0x10 | 0x0a);
    expect(rd(uart, R.MSR) & 0xf0).toBe(0x90);
    wr(uart, R.RBR_THR_DLL, 0x55);
    expect(h.console).toEqual([]);
    expect(rd(uart, R.LSR) & 1).toBe(1);
    expect(rd(uart, R.RBR_THR_DLL)).toBe(0x55);
  });

  it('sets MSR delta bits for modem lines that change, raises the modem-status interrupt, clears on read', () => {
    const { uart, h } = make({ irq: 4 });
    wr(uart, R.MCR, 0x10 | 0x0f); // loop, all outputs high: DCD DSR CTS stay high, RI rises
    expect(rd(uart, R.MSR)).toBe(0xf0); // a rising RI sets no delta (TERI is trailing-edge)
    wr(uart, R.IER_DLM, 0x08);
    wr(uart, R.MCR, 0x10 | 0x08); // only OUT2: CTS, DSR and RI fall
    expect(h.irq).toEqual([[4, true]]);
    expect(rd(uart, R.IIR_FCR)).toBe(0x00);
    expect(rd(uart, R.MSR)).toBe(0x80 | 0x07); // DCD, plus DCTS | DDSR | TERI
    expect(rd(uart, R.MSR)).toBe(0x80);
    expect(h.irq).toEqual([[4, true], [4, false]]);
  });
});

describe('uart8250 shared state', () => {
  it('is one UART for every instance on the same shared buffer', () => {
    const a = make();
    wr(a.uart, R.SCR, 0x77);
    wr(a.uart, R.LCR, 0x03);
    const b = make({}, a.h.ctx.shared); // a second vCPU thread's instance: must not reset
    expect(rd(b.uart, R.SCR)).toBe(0x77);
    uartPushInput(a.h.ctx.shared, Buffer.from('z'));
    expect(rd(b.uart, R.RBR_THR_DLL)).toBe(0x7a);
    expect(rd(a.uart, R.LSR)).toBe(0x60);
  });

  it('saves registers and queued bytes and restores them into a fresh UART that behaves the same', () => {
    const layout = uart8250Plugin.sharedLayout!({ irq: 4 });
    const a = make({ irq: 4 });
    wr(a.uart, R.LCR, 0x03);
    wr(a.uart, R.IER_DLM, 0x03);
    wr(a.uart, R.SCR, 0x42);
    a.uart.pushInput(Buffer.from('qr'));
    const saved = saveSharedState(layout, a.h.ctx.shared);
    expect(saved).toMatchObject({ layout: 'uart8250', version: 1 });
    const b = make({ irq: 4 }, new SharedArrayBuffer(layout.byteLength));
    restoreSharedState(layout, b.h.ctx.shared, structuredClone(saved));
    b.uart.afterRestore();
    expect(b.h.irq).toEqual([[4, true]]); // the restored RX-data interrupt, driven in the new VM
    // From here on both UARTs must answer, drive the line and print alike (reads with side effects included).
    const irqBefore = { a: a.h.irq.length, b: b.h.irq.length };
    const exercise = (u: Uart8250): number[] => {
      const reads = [R.IER_DLM, R.LCR, R.MCR, R.SCR, R.MSR, R.LSR, R.IIR_FCR, R.RBR_THR_DLL, R.IIR_FCR, R.RBR_THR_DLL, R.LSR, R.IIR_FCR, R.IIR_FCR].map((reg) => rd(u, reg));
      wr(u, R.RBR_THR_DLL, 0x21);
      return [...reads, rd(u, R.IIR_FCR), rd(u, R.IIR_FCR)];
    };
    expect(exercise(b.uart)).toEqual(exercise(a.uart));
    expect(b.h.irq.slice(irqBefore.b)).toEqual(a.h.irq.slice(irqBefore.a));
    expect(b.h.console).toEqual(a.h.console);
  });

  it('refuses saved state of another layout, version or size with a CheckpointError naming it', () => {
    const small = uart8250Plugin.sharedLayout!({ rxQueueBytes: 16 });
    const big = uart8250Plugin.sharedLayout!({ rxQueueBytes: 1024 });
    const saved = saveSharedState(small, make({ rxQueueBytes: 16 }).h.ctx.shared);
    const target = new SharedArrayBuffer(big.byteLength);
    const refusals: [typeof saved, RegExp][] = [
      [saved, /saved state is \d+ bytes, layout v1 has \d+/],
      [{ ...saved, layout: 'exit-device' }, /of layout 'exit-device', not 'uart8250'/],
      [{ ...saved, version: 2 }, /layout version 2, this build has version 1/],
    ];
    for (const [blob, message] of refusals) {
      expect(() => restoreSharedState(big, target, blob)).toThrow(CheckpointError);
      expect(() => restoreSharedState(big, target, blob)).toThrow(message);
    }
    expect(new Uint8Array(target).every((byte) => byte === 0)).toBe(true);
  });

  it('reset() returns to power-on values', () => {
    const { uart, h } = make();
    wr(uart, R.SCR, 9);
    uartPushInput(h.ctx.shared, Buffer.from('a'));
    uart.reset();
    expect(rd(uart, R.SCR)).toBe(0);
    expect(rd(uart, R.LSR)).toBe(0x60);
  });
});

describe('uart8250 plugin', () => {
  it('places COM1 by default and sizes its shared state from the queue', () => {
    expect(uart8250Plugin.type).toBe('uart8250');
    expect(uart8250Plugin.placement({})).toEqual({ pio: [{ base: 0x3f8, size: 8 }] });
    expect(uart8250Plugin.placement({ port: 0x2f8 })).toEqual({ pio: [{ base: 0x2f8, size: 8 }] });
    const layout = uart8250Plugin.sharedLayout!({});
    expect(layout).toMatchObject({ name: 'uart8250', version: 1, byteLength: 24 + 256 });
    expect(layout.fields.rxRing).toEqual({ kind: { bytes: 256 }, offset: 24, size: 256 });
    expect(uart8250Plugin.sharedLayout!({ rxQueueBytes: 1024 }).byteLength).toBe(24 + 1024);
  });

  it('rejects bad options with a ConfigError naming the option', () => {
    const bad: [Uart8250Options, RegExp][] = [
      [{ port: 0xfffc }, /uart8250\.port/],
      [{ port: -1 }, /uart8250\.port/],
      [{ irq: 1.5 }, /uart8250\.irq/],
      [{ rxQueueBytes: 100 }, /uart8250\.rxQueueBytes/],
      [{ rxQueueBytes: 8 }, /uart8250\.rxQueueBytes/],
      [{ baud: 9600 } as Uart8250Options, /uart8250\.baud/],
    ];
    for (const [options, message] of bad) {
      expect(() => uart8250Plugin.validate(options)).toThrow(ConfigError);
      expect(() => uart8250Plugin.validate(options)).toThrow(message);
    }
  });

  it('builds a spec for this package', () => {
    expect(uart8250({ irq: 4 })).toEqual({ plugin: '@kvmts/arch-x86', type: 'uart8250', options: { irq: 4 } });
    expect(uart8250()).toEqual({ plugin: '@kvmts/arch-x86', type: 'uart8250', options: {} });
    expect(uart8250({}, 'com2').name).toBe('com2');
  });
});

describe('uart8250 console flush', () => {
  it('asks for a flush when the guest writes IER (its driver stopping transmission), after the bytes, not per byte', () => {
    const { uart, h } = make();
    wr(uart, R.IER_DLM, 0x02); // THRI on: the driver starts transmitting
    expect(h.flushes).toEqual([0]);
    for (const c of Buffer.from('kvmts-sh# ')) wr(uart, R.RBR_THR_DLL, c);
    expect(h.flushes).toEqual([0]); // no flush per byte
    wr(uart, R.IER_DLM, 0x00); // THRI off: the prompt is complete without a newline
    expect(h.flushes).toEqual([0, 10]);
    expect(Buffer.from(h.console).toString('latin1')).toBe('kvmts-sh# ');
    // DLM writes (DLAB set) are not IER: no flush.
    wr(uart, R.LCR, 0x80);
    wr(uart, R.IER_DLM, 0x00);
    expect(h.flushes).toEqual([0, 10]);
  });
});
