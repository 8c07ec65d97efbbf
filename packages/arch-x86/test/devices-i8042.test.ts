/**
 * The i8042 register by register, and port 0x92: what Linux's i8042 probe, atkbd and
 * `reboot=k` do, with the values a PC gives (x86-64.md §9). Two instances on one shared state
 * stand for two vCPU threads.
 */
import { ConfigError, restoreSharedState, saveSharedState, type DeviceContext, type DevicePlugin, type HighWord } from '@kvmts/core';
import {
  cmosRtcPlugin,
  I8042,
  i8042,
  i8042Plugin,
  I8042_CMD as CMD,
  I8042_STATUS as ST,
  pcDevices,
  SystemControlPort,
  systemControlPortPlugin,
  uart8250Plugin,
  type I8042Options,
} from '../src/devices';

interface Harness {
  ctx: DeviceContext;
  irq: [number, boolean][];
  resets: number;
}

function context(shared: SharedArrayBuffer): Harness {
  const h: Harness = { irq: [], resets: 0, ctx: undefined as unknown as DeviceContext };
  h.ctx = {
    name: 'i8042',
    vcpuId: 0,
    shared,
    consoleWrite: () => undefined,
    requestPowerOff: () => undefined,
    requestReset: () => h.resets++,
    setIrqLine: (line, level) => h.irq.push([line, level]),
  };
  return h;
}

function make(options: I8042Options = {}, shared?: SharedArrayBuffer): { dev: I8042; h: Harness; shared: SharedArrayBuffer } {
  i8042Plugin.validate(options);
  const buf = shared ?? new SharedArrayBuffer(i8042Plugin.sharedLayout!(options).byteLength);
  const h = context(buf);
  return { dev: i8042Plugin.create(h.ctx, options) as I8042, h, shared: buf };
}

const out: HighWord = { high: 0 };
/** The two ports as the bus reaches them: range 0 = 0x60, range 1 = 0x64. */
const data = (d: I8042) => d.forRange('pio', 0);
const cmdPort = (d: I8042) => d.forRange('pio', 1);
const status = (d: I8042): number => cmdPort(d).read(0, 1, out);
const readData = (d: I8042): number => data(d).read(0, 1, out);
const command = (d: I8042, c: number): void => cmdPort(d).write(0, 1, c, 0);
const writeData = (d: I8042, v: number): void => data(d).write(0, 1, v, 0);
/** Everything queued, as Linux's i8042_flush reads it: while OBF, read 0x60. */
function drain(d: I8042): number[] {
  const bytes: number[] = [];
  while (status(d) & ST.OBF) bytes.push(readData(d));
  return bytes;
}

describe('i8042 controller', () => {
  it('powers on idle: status 0x14 (keyboard unlocked, system flag), command byte 0x05, output port 0x03', () => {
    const { dev } = make();
    expect(status(dev)).toBe(0x14);
    command(dev, CMD.READ_RAM);
    expect(status(dev)).toBe(ST.OBF | ST.SYS | ST.CMD | ST.UNLOCKED);
    expect(readData(dev)).toBe(0x05);
    command(dev, CMD.READ_OUTPUT_PORT);
    expect(drain(dev)).toEqual([0x03]);
    // IBF never sets: every byte is taken at once (Linux's kb_wait in reboot=k polls it).
    expect(status(dev) & ST.IBF).toBe(0);
  });

  it('reads and writes the command byte (0x20 / 0x60) and the rest of its RAM (0x21–0x3F / 0x61–0x7F)', () => {
    const { dev } = make();
    command(dev, CMD.WRITE_RAM);
    expect(status(dev) & ST.CMD).toBe(ST.CMD);
    writeData(dev, 0x47);
    expect(status(dev) & ST.CMD).toBe(0);
    command(dev, CMD.READ_RAM);
    expect(drain(dev)).toEqual([0x47]);
    command(dev, 0x7f);
    writeData(dev, 0xa5);
    command(dev, 0x3f);
    expect(drain(dev)).toEqual([0xa5]);
    // The system flag in status follows command-byte bit 2.
    command(dev, CMD.WRITE_RAM);
    writeData(dev, 0x00);
    expect(status(dev) & ST.SYS).toBe(0);
  });

  it('answers the self-test with 0x55 and the interface tests with 0x00', () => {
    const { dev } = make();
    command(dev, CMD.SELF_TEST);
    expect(drain(dev)).toEqual([0x55]);
    command(dev, CMD.KBD_TEST);
    expect(drain(dev)).toEqual([0x00]);
    command(dev, CMD.AUX_TEST);
    expect(drain(dev)).toEqual([0x00]);
    command(dev, CMD.READ_INPUT_PORT);
    expect(drain(dev)).toEqual([0x80]);
    command(dev, CMD.READ_TEST_INPUTS);
    expect(drain(dev)).toEqual([0x00]);
  });

  it('disables and enables the keyboard and aux clocks through command-byte bits 4 and 5', () => {
    const { dev } = make();
    const ctr = (): number => {
      command(dev, CMD.READ_RAM);
      return readData(dev);
    };
    command(dev, CMD.KBD_DISABLE);
    expect(ctr()).toBe(0x15);
    command(dev, CMD.AUX_DISABLE);
    expect(ctr()).toBe(0x35);
    command(dev, CMD.KBD_ENABLE);
    expect(ctr()).toBe(0x25);
    command(dev, CMD.AUX_ENABLE);
    expect(ctr()).toBe(0x05);
  });

  it('loops a byte back through the aux port (0xD3) with AUXDATA set, as Linux checks for an aux port', () => {
    const { dev } = make();
    command(dev, CMD.WRITE_AUX_OUTPUT);
    writeData(dev, 0x5a);
    expect(status(dev)).toBe(ST.OBF | ST.SYS | ST.UNLOCKED | ST.AUXDATA);
    expect(readData(dev)).toBe(0x5a);
    expect(status(dev) & (ST.OBF | ST.AUXDATA)).toBe(0);
    // 0xD2 writes the keyboard's output buffer: no AUXDATA.
    command(dev, CMD.WRITE_KBD_OUTPUT);
    writeData(dev, 0x1c);
    expect(status(dev) & (ST.OBF | ST.AUXDATA)).toBe(ST.OBF);
    expect(readData(dev)).toBe(0x1c);
  });

  it('a byte for the absent aux device (0xD4) times out at once: 0xFE with TIMEOUT and AUXDATA', () => {
    const { dev } = make();
    command(dev, CMD.WRITE_AUX_DEVICE);
    writeData(dev, 0xf2);
    expect(status(dev) & (ST.OBF | ST.AUXDATA | ST.TIMEOUT)).toBe(ST.OBF | ST.AUXDATA | ST.TIMEOUT);
    expect(readData(dev)).toBe(0xfe);
    expect(status(dev) & ST.TIMEOUT).toBe(0);
  });

  it('the data port keeps its last byte when read empty', () => {
    const { dev } = make();
    command(dev, CMD.SELF_TEST);
    expect(readData(dev)).toBe(0x55);
    expect(readData(dev)).toBe(0x55);
    expect(status(dev) & ST.OBF).toBe(0);
  });

  it('unknown controller commands are ignored; a new command abandons one waiting for data', () => {
    const { dev } = make();
    command(dev, 0xa1); // vendor version query
    expect(status(dev) & ST.OBF).toBe(0);
    command(dev, CMD.WRITE_RAM);
    command(dev, CMD.READ_RAM);
    expect(drain(dev)).toEqual([0x05]);
    writeData(dev, 0xf4); // now a keyboard byte, not command-byte data
    expect(drain(dev)).toEqual([0xfa]);
    command(dev, CMD.READ_RAM);
    expect(drain(dev)).toEqual([0x05]);
  });
});

describe('i8042 keyboard', () => {
  it('answers reset with ACK and BAT-passed, get-ID with ACK AB 83 (AB 41 when translating)', () => {
    const { dev } = make();
    writeData(dev, 0xff);
    expect(drain(dev)).toEqual([0xfa, 0xaa]);
    writeData(dev, 0xf2);
    expect(drain(dev)).toEqual([0xfa, 0xab, 0x83]);
    command(dev, CMD.WRITE_RAM);
    writeData(dev, 0x45); // XLATE | SYS | KBDINT
    writeData(dev, 0xf2);
    expect(drain(dev)).toEqual([0xfa, 0xab, 0x41]);
  });

  it('acknowledges commands with an argument twice (command, then argument); echoes 0xEE; resends unknown bytes', () => {
    const { dev } = make();
    writeData(dev, 0xed);
    writeData(dev, 0x07);
    expect(drain(dev)).toEqual([0xfa, 0xfa]);
    writeData(dev, 0xee);
    expect(drain(dev)).toEqual([0xee]);
    writeData(dev, 0x42);
    expect(drain(dev)).toEqual([0xfe]);
    for (const c of [0xf4, 0xf5, 0xf6]) {
      writeData(dev, c);
      expect(drain(dev)).toEqual([0xfa]);
    }
  });

  it('holds 16 bytes; more are dropped', () => {
    const { dev } = make();
    for (let i = 0; i < 9; i++) writeData(dev, 0xf2); // 27 bytes of answers
    expect(drain(dev)).toHaveLength(16);
  });
});

describe('i8042 interrupts', () => {
  it('drives IRQ 1 while keyboard output waits and command-byte bit 0 is set, only on changes', () => {
    const { dev, h } = make({ irq: 1, auxIrq: 12 });
    writeData(dev, 0xff); // ACK, BAT: the line rises once
    expect(h.irq).toEqual([[1, true]]);
    readData(dev);
    expect(h.irq).toEqual([[1, true]]);
    readData(dev);
    expect(h.irq).toEqual([[1, true], [1, false]]);
    // KBDINT clear: no interrupt for keyboard output.
    command(dev, CMD.WRITE_RAM);
    writeData(dev, 0x04);
    writeData(dev, 0xee);
    expect(h.irq).toEqual([[1, true], [1, false]]);
    expect(dev.interruptsAsserted()).toEqual({ keyboard: false, aux: false });
  });

  it('drives IRQ 12 for aux output when command-byte bit 1 is set', () => {
    const { dev, h } = make({ irq: 1, auxIrq: 12 });
    command(dev, CMD.WRITE_RAM);
    writeData(dev, 0x07); // KBDINT | AUXINT | SYS
    command(dev, CMD.WRITE_AUX_OUTPUT);
    writeData(dev, 0xa5);
    expect(h.irq).toEqual([[12, true]]);
    expect(dev.interruptsAsserted()).toEqual({ keyboard: false, aux: true });
    expect(readData(dev)).toBe(0xa5);
    expect(h.irq).toEqual([[12, true], [12, false]]);
  });

  it('after a restore drives both lines to the restored levels', () => {
    const { dev, shared } = make({ irq: 1, auxIrq: 12 });
    writeData(dev, 0xf2);
    const saved = saveSharedState(i8042Plugin.sharedLayout!({}), shared);
    const { dev: restored, h, shared: into } = make({ irq: 1, auxIrq: 12 });
    restoreSharedState(i8042Plugin.sharedLayout!({}), into, saved);
    restored.afterRestore();
    expect(h.irq).toEqual([[1, true], [12, false]]);
    expect(drain(restored)).toEqual([0xfa, 0xab, 0x83]);
  });
});

describe('i8042 reset line', () => {
  it('0xFE (pulse reset) requests a system reset once, after the access', () => {
    const { dev, h } = make();
    command(dev, CMD.PULSE_RESET);
    expect(h.resets).toBe(1);
  });

  it('pulse commands reset only when they pulse bit 0 (0xF0–0xFF with bit 0 clear)', () => {
    const { dev, h } = make();
    command(dev, 0xff); // pulses nothing
    command(dev, 0xfd);
    expect(h.resets).toBe(0);
    command(dev, 0xf0);
    expect(h.resets).toBe(1);
  });

  it('writing the output port with the reset line low resets; A20 commands change only bit 1', () => {
    const { dev, h } = make();
    command(dev, CMD.A20_DISABLE);
    command(dev, CMD.READ_OUTPUT_PORT);
    expect(drain(dev)).toEqual([0x01]);
    command(dev, CMD.A20_ENABLE);
    command(dev, CMD.WRITE_OUTPUT_PORT);
    writeData(dev, 0x03);
    expect(h.resets).toBe(0);
    command(dev, CMD.WRITE_OUTPUT_PORT);
    writeData(dev, 0x02);
    expect(h.resets).toBe(1);
  });
});

describe('i8042 accesses, sharing and options', () => {
  it('two instances on one shared state are one controller', () => {
    const { dev: a, shared } = make();
    const { dev: b } = make({}, shared);
    command(a, CMD.SELF_TEST);
    expect(status(b) & ST.OBF).toBe(ST.OBF);
    expect(readData(b)).toBe(0x55);
    expect(status(a) & ST.OBF).toBe(0);
  });

  it('a wider access reaches only the low byte; the other lanes read all-ones', () => {
    const { dev } = make();
    expect(cmdPort(dev).read(0, 2, out)).toBe(0xff14);
    expect(cmdPort(dev).read(0, 4, out)).toBe(0xffffff14);
    cmdPort(dev).write(0, 2, 0x11aa, 0);
    expect(data(dev).read(0, 4, out)).toBe(0xffffff55);
    expect(out.high).toBe(0);
  });

  it('sits at ports 0x60 and 0x64 only, and reset() powers it on again', () => {
    expect(i8042Plugin.placement({})).toEqual({ pio: [{ base: 0x60, size: 1 }, { base: 0x64, size: 1 }] });
    const { dev } = make();
    command(dev, CMD.KBD_DISABLE);
    writeData(dev, 0xf2);
    dev.reset();
    expect(status(dev)).toBe(0x14);
    command(dev, CMD.READ_RAM);
    expect(drain(dev)).toEqual([0x05]);
  });

  it('rejects bad options with a ConfigError naming the option', () => {
    expect(() => i8042Plugin.validate({ irq: -1 })).toThrow(ConfigError);
    expect(() => i8042Plugin.validate({ irq: 1, auxIrq: 1 })).toThrow(/i8042.auxIrq/);
    expect(() => i8042Plugin.validate({ irk: 1 } as unknown as I8042Options)).toThrow(/i8042.irk: unknown option/);
    expect(() => i8042Plugin.validate('x' as unknown as I8042Options)).toThrow(ConfigError);
    expect(i8042({ irq: 1 })).toEqual({ plugin: '@kvmts/arch-x86', type: 'i8042', options: { irq: 1 } });
  });
});

describe('system control port A (0x92)', () => {
  function port(): { dev: SystemControlPort; h: Harness } {
    const h = context(new SharedArrayBuffer(systemControlPortPlugin.sharedLayout!({}).byteLength));
    return { dev: systemControlPortPlugin.create(h.ctx, {}) as SystemControlPort, h };
  }

  it('stores A20 (bit 1), resets on bit 0 and reads bit 0 back clear', () => {
    const { dev, h } = port();
    expect(dev.read(0, 1, out)).toBe(0);
    dev.write(0, 1, 0x02, 0);
    expect(dev.read(0, 1, out)).toBe(0x02);
    expect(h.resets).toBe(0);
    dev.write(0, 1, 0x03, 0);
    expect(h.resets).toBe(1);
    expect(dev.read(0, 1, out)).toBe(0x02);
    expect(dev.read(0, 2, out)).toBe(0xff02);
    expect(systemControlPortPlugin.placement({})).toEqual({ pio: [{ base: 0x92, size: 1 }] });
    expect(() => systemControlPortPlugin.validate({ a20: 1 } as never)).toThrow(/system-control-port.a20: unknown option/);
  });
});

describe('pcDevices', () => {
  it('lists COM1, the i8042, port 0x92 and the CMOS at the PC IRQs, every one valid for its plugin', () => {
    const specs = pcDevices({ memory: '512M', cpus: 2 });
    expect(specs.map((d) => [d.type, d.name, d.options])).toEqual([
      ['uart8250', 'com1', { irq: 4 }],
      ['i8042', 'i8042', { irq: 1, auxIrq: 12 }],
      ['system-control-port', 'port92', {}],
      ['cmos-rtc', 'cmos', { memory: '512M', cpus: 2 }],
    ]);
    const plugins = [uart8250Plugin, i8042Plugin, systemControlPortPlugin, cmosRtcPlugin] as DevicePlugin<unknown>[];
    specs.forEach((d, i) => expect(() => plugins[i].validate(d.options)).not.toThrow());
  });
});
