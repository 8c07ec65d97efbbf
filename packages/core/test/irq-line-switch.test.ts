import { ConfigError, IrqLineSwitch, type IrqLines } from '@kvmts/core';

function recorder(): IrqLines & { seen: [number, boolean][] } {
  const seen: [number, boolean][] = [];
  return { seen, set: (line, level) => seen.push([line, level]) };
}

describe('IrqLineSwitch', () => {
  it('sends lines to the base until a controller claims them, then to the controller', () => {
    const base = recorder();
    const controller = recorder();
    const lines = new IrqLineSwitch(base);
    lines.set(33, true);
    const under = lines.claim(controller, 'gic');
    lines.set(33, false);
    under.set(0x0100_0000, true); // the controller's own output goes underneath
    expect(base.seen).toEqual([[33, true], [0x0100_0000, true]]);
    expect(controller.seen).toEqual([[33, false]]);
  });

  it('refuses a second interrupt controller, naming both', () => {
    const lines = new IrqLineSwitch(recorder());
    lines.claim(recorder(), 'gic-a');
    expect(() => lines.claim(recorder(), 'gic-b')).toThrow(ConfigError);
    expect(() => lines.claim(recorder(), 'gic-b')).toThrow(/'gic-b' cannot be .*'gic-a' already is/);
  });
});
