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
});
