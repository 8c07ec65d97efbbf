import { DeferredEffects } from '@kvmts/core';

describe('DeferredEffects', () => {
  it('holds console bytes and a power-off until delivered, then delivers them in order once', () => {
    const calls: string[] = [];
    const ctx = { consoleWrite: (b: number) => calls.push(`byte ${b}`), requestPowerOff: (s: number) => calls.push(`off ${s}`) };
    const effects = new DeferredEffects();
    for (let b = 0; b < 20; b++) effects.consoleWrite(b); // past the initial capacity
    effects.requestPowerOff(3);
    expect(calls).toEqual([]);
    effects.deliver(ctx);
    expect(calls).toEqual([...Array.from({ length: 20 }, (_, b) => `byte ${b}`), 'off 3']);
    effects.deliver(ctx);
    expect(calls).toHaveLength(21);
  });

  it('delivers a console flush after the queued bytes, once, and skips it for a context without one', () => {
    const calls: string[] = [];
    const ctx = { consoleWrite: (b: number) => calls.push(`byte ${b}`), consoleFlush: () => calls.push('flush'), requestPowerOff: (s: number) => calls.push(`off ${s}`) };
    const effects = new DeferredEffects();
    effects.consoleFlush();
    effects.consoleWrite(0x23);
    effects.consoleWrite(0x20);
    effects.deliver(ctx);
    expect(calls).toEqual(['byte 35', 'byte 32', 'flush']);
    effects.deliver(ctx);
    expect(calls).toHaveLength(3);
    effects.consoleFlush();
    expect(() => effects.deliver({ consoleWrite: () => undefined, requestPowerOff: () => undefined })).not.toThrow();
  });
});
