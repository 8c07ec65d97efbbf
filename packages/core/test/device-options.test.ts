import { ConfigError, checkDeviceOptions } from '@kvmts/core';

describe('checkDeviceOptions', () => {
  it('nothing means every default; a known key passes through as given', () => {
    expect(checkDeviceOptions('uart', undefined, ['port'])).toEqual({});
    const options = { port: 0x3f8 };
    expect(checkDeviceOptions('uart', options, ['port', 'irq'])).toBe(options);
  });

  it('refuses what is not an options object, naming the device and the value', () => {
    for (const [bad, shown] of [[null, 'null'], [7, '7'], ['port', '"port"'], [[1], 'an array of 1']] as const) {
      const attempt = () => checkDeviceOptions('uart', bad as never, ['port']);
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(`uart: options must be an object, got ${shown}`);
    }
  });

  it('names an unknown key with the ones it knows (none for a device without options)', () => {
    expect(() => checkDeviceOptions('uart', { prot: 1 } as never, ['port', 'irq'])).toThrow('uart.prot: unknown option (known: port, irq)');
    expect(() => checkDeviceOptions('port92', { a20: true } as never, [])).toThrow('port92.a20: unknown option (known: none)');
  });
});
