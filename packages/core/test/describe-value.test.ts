import { describeValue } from '../src';

describe('describeValue (values quoted in error messages)', () => {
  it('describes every kind of value without throwing', () => {
    const junkToString = { toString: 5 };
    const noProto = Object.create(null) as object;
    expect([
      describeValue('64M'),
      describeValue(-0),
      describeValue(NaN),
      describeValue(2n ** 64n),
      describeValue(undefined),
      describeValue(null),
      describeValue(true),
      describeValue(Symbol('s')),
      describeValue(() => 1),
      describeValue([1, 2]),
      describeValue(Uint8Array.of(1, 2, 3)),
      describeValue(junkToString),
      describeValue(noProto),
    ]).toEqual(['"64M"', '-0', 'NaN', '18446744073709551616n', 'undefined', 'null', 'true', 'a symbol (s)', 'a function', 'an array of 2', 'a Uint8Array of 3 bytes', 'an object', 'an object']);
    // String() throws on these two: the reason describeValue exists.
    expect(() => String(junkToString)).toThrow(TypeError);
    expect(() => `${Symbol('s') as unknown as string}`).toThrow(TypeError);
  });

  it('clips long strings to 60 characters and says how long they were', () => {
    expect(describeValue('x'.repeat(300000))).toBe(`"${'x'.repeat(60)}… (300000 characters)"`);
  });
});
