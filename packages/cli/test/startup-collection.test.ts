/**
 * KVMTS_BOOT_COLLECT: `kvmts boot`'s start-up collection — by default only where vCPU threads were
 * started; 1 always, 0 never; anything else is named.
 */
import { ConfigError } from '@kvmts/core';
import { STARTUP_COLLECTION_ENV, startupCollectionSetting, startupCollectionWanted } from '../src/startup-collection';

describe('startup collection setting', () => {
  it('is auto when unset or empty, always for 1, never for 0', () => {
    expect(startupCollectionSetting({})).toBe('auto');
    expect(startupCollectionSetting({ [STARTUP_COLLECTION_ENV]: '' })).toBe('auto');
    expect(startupCollectionSetting({ [STARTUP_COLLECTION_ENV]: '1' })).toBe('always');
    expect(startupCollectionSetting({ [STARTUP_COLLECTION_ENV]: '0' })).toBe('never');
  });

  it('auto collects only where vCPU threads were started; always and never as they say', () => {
    expect(startupCollectionWanted('auto', false)).toBe(true);
    expect(startupCollectionWanted('auto', true)).toBe(false);
    expect(startupCollectionWanted('always', true)).toBe(true);
    expect(startupCollectionWanted('always', false)).toBe(true);
    expect(startupCollectionWanted('never', false)).toBe(false);
    expect(startupCollectionWanted('never', true)).toBe(false);
  });

  it('refuses any other value with a ConfigError naming the variable and the value', () => {
    expect(() => startupCollectionSetting({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(ConfigError);
    expect(() => startupCollectionSetting({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(
      "KVMTS_BOOT_COLLECT: must be 1 (collect the start-up's garbage before the guest runs), 0 (do not) or empty (only where vCPU threads were started), got 'no'",
    );
  });
});
