/** KVMTS_BOOT_COLLECT: `kvmts boot`'s start-up collection is on unless it says 0; anything else is named. */
import { ConfigError } from '@kvmts/core';
import { STARTUP_COLLECTION_ENV, startupCollectionWanted } from '../src/startup-collection';

describe('startupCollectionWanted', () => {
  it('is on when unset, empty or 1, off for 0', () => {
    expect(startupCollectionWanted({})).toBe(true);
    expect(startupCollectionWanted({ [STARTUP_COLLECTION_ENV]: '' })).toBe(true);
    expect(startupCollectionWanted({ [STARTUP_COLLECTION_ENV]: '1' })).toBe(true);
    expect(startupCollectionWanted({ [STARTUP_COLLECTION_ENV]: '0' })).toBe(false);
  });

  it('refuses any other value with a ConfigError naming the variable and the value', () => {
    expect(() => startupCollectionWanted({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(ConfigError);
    expect(() => startupCollectionWanted({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(
      "KVMTS_BOOT_COLLECT: must be 1 (collect the start-up's garbage before the guest runs) or 0 (do not), got 'no'",
    );
  });
});
