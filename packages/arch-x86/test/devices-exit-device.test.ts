import { CheckpointError, ConfigError, restoreSharedState, saveSharedState, type DeviceContext, type HighWord } from '@kvmts/core';
import { exitDevice, ExitDevice, exitDevicePlugin, readExitDeviceState, type ExitDeviceOptions } from '../src/devices';

function make(options: ExitDeviceOptions = {}): { dev: ExitDevice; ctx: DeviceContext; powerOff: number[] } {
  const powerOff: number[] = [];
  const ctx: DeviceContext = {
    name: 'exit-device@0xf4',
    vcpuId: 0,
    shared: new SharedArrayBuffer(exitDevicePlugin.sharedLayout!(options).byteLength),
    consoleWrite: () => undefined,
    requestPowerOff: (status) => powerOff.push(status),
    setIrqLine: () => undefined,
  };
  exitDevicePlugin.validate(options);
  return { dev: exitDevicePlugin.create(ctx, options) as ExitDevice, ctx, powerOff };
}

const out: HighWord = { high: 0 };

describe('exit device', () => {
  it('powers off with the value written to the exit port, zero-extended from the access size', () => {
    const { dev, ctx, powerOff } = make();
    expect(readExitDeviceState(ctx.shared)).toEqual({ exited: false, status: 0, hasResult: false, result: 0 });
    dev.write(0, 1, 0x12a, 0); // `out 0xf4, al` with al = 0x2a
    expect(powerOff).toEqual([0x2a]);
    dev.write(0, 4, 0xdeadbeef, 0);
    expect(powerOff).toEqual([0x2a, 0xdeadbeef]);
    expect(readExitDeviceState(ctx.shared)).toMatchObject({ exited: true, status: 0xdeadbeef });
  });

  it('keeps a 32-bit result register at port + 4 that merges byte lanes', () => {
    const { dev, ctx, powerOff } = make();
    dev.write(4, 4, 0x14f0da9f, 0);
    expect(readExitDeviceState(ctx.shared)).toEqual({ exited: false, status: 0, hasResult: true, result: 0x14f0da9f });
    dev.write(5, 1, 0x00, 0);
    expect(dev.read(4, 4, out)).toBe(0x14f0009f);
    expect(dev.read(6, 2, out)).toBe(0x14f0);
    expect(dev.read(0, 4, out)).toBe(0);
    expect(powerOff).toEqual([]);
  });

  it('saves its state and restores it; reset clears it', () => {
    const layout = exitDevicePlugin.sharedLayout!({});
    const a = make();
    a.dev.write(4, 4, 7, 0);
    a.dev.write(0, 1, 3, 0);
    const state = saveSharedState(layout, a.ctx.shared);
    const b = make();
    restoreSharedState(layout, b.ctx.shared, state);
    expect(readExitDeviceState(b.ctx.shared)).toEqual({ exited: true, status: 3, hasResult: true, result: 7 });
    b.dev.reset();
    expect(readExitDeviceState(b.ctx.shared)).toEqual({ exited: false, status: 0, hasResult: false, result: 0 });
    expect(() => restoreSharedState(layout, b.ctx.shared, { ...state, layout: 'uart8250' })).toThrow(CheckpointError);
    expect(() => restoreSharedState(layout, b.ctx.shared, { ...state, layout: 'uart8250' })).toThrow(/device state 'exit-device'/);
  });

  it('sits at 0xf4–0xfb by default and rejects bad options by name', () => {
    expect(exitDevicePlugin.type).toBe('exit-device');
    expect(exitDevicePlugin.placement({})).toEqual({ pio: [{ base: 0xf4, size: 8 }] });
    expect(exitDevicePlugin.placement({ port: 0x501 })).toEqual({ pio: [{ base: 0x501, size: 8 }] });
    expect(() => exitDevicePlugin.validate({ port: 0xfffa })).toThrow(ConfigError);
    expect(() => exitDevicePlugin.validate({ port: 0xfffa })).toThrow(/exit-device\.port/);
    expect(() => exitDevicePlugin.validate({ bogus: 1 } as ExitDeviceOptions)).toThrow(/exit-device\.bogus/);
  });

  it('builds a spec for this package', () => {
    expect(exitDevice()).toEqual({ plugin: '@kvmts/arch-x86', type: 'exit-device', options: {} });
  });
});
