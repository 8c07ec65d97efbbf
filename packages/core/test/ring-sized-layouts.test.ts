import { ConfigError, ringSizedLayouts } from '@kvmts/core';

const uartLike = ringSizedLayouts({
  name: 'toy-uart',
  version: 1,
  sizes: { min: 16, max: 64, default: 16 },
  fields: (bytes: number) => ({ lock: 'lock', rxHead: 'u32', rxTail: 'u32', lcr: 'u8', rxRing: { bytes } }) as const,
});

describe('ringSizedLayouts', () => {
  it('makes one layout per ring size and reuses it (so bindings share accessors)', () => {
    expect(uartLike.layout(16)).toBe(uartLike.layout(16));
    expect(uartLike.layout(16)).not.toBe(uartLike.layout(32));
    // lock 4 + two u32 8 + u8 1 = the ring at 13; the total rounded up to a multiple of 4.
    expect([16, 32, 64].map((n) => uartLike.layout(n).byteLength)).toEqual([32, 48, 80]);
    expect(uartLike.layout(32).fields.rxRing).toMatchObject({ offset: 13, size: 32 });
  });

  it('finds the layout a buffer was allocated with from its length', () => {
    for (const n of [16, 32, 64]) expect(uartLike.layoutOf(new SharedArrayBuffer(uartLike.layout(n).byteLength))).toBe(uartLike.layout(n));
  });

  it('a buffer of no offered size is a ConfigError naming the device', () => {
    const attempt = () => uartLike.layoutOf(new SharedArrayBuffer(40));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow("toy-uart.shared: a 40-byte buffer is not a toy-uart's shared state");
  });
});
