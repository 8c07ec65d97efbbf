/**
 * KVMTS_BOOT_COLLECT: what `kvmts boot` gives back — the start-up collection and the C heap trims
 * while the guest runs — on unless it says otherwise; anything else is named. The trims' timer.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ConfigError } from '@kvmts/core';
import { STARTUP_COLLECTION_ENV, TRIM_INTERVAL_MS, memoryGiveBack, trimWhileRunning } from '../src/startup-collection';

describe('memoryGiveBack', () => {
  it('is both when unset, empty or 1; the collection only for start-up; neither for 0', () => {
    const both = { startUp: true, whileRunning: true };
    expect(memoryGiveBack({})).toEqual(both);
    expect(memoryGiveBack({ [STARTUP_COLLECTION_ENV]: '' })).toEqual(both);
    expect(memoryGiveBack({ [STARTUP_COLLECTION_ENV]: '1' })).toEqual(both);
    expect(memoryGiveBack({ [STARTUP_COLLECTION_ENV]: 'start-up' })).toEqual({ startUp: true, whileRunning: false });
    expect(memoryGiveBack({ [STARTUP_COLLECTION_ENV]: '0' })).toEqual({ startUp: false, whileRunning: false });
  });

  it('refuses any other value with a ConfigError naming the variable, the choices and the value', () => {
    expect(() => memoryGiveBack({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(ConfigError);
    expect(() => memoryGiveBack({ [STARTUP_COLLECTION_ENV]: 'no' })).toThrow(
      "KVMTS_BOOT_COLLECT: must be 1 (collect the start-up's garbage before the guest runs, trim the C heap while it runs), start-up (the collection only) or 0 (neither), got 'no'",
    );
  });
});

describe('trimWhileRunning', () => {
  afterEach(() => jest.useRealTimers());

  it('trims every TRIM_INTERVAL_MS until stopped', () => {
    jest.useFakeTimers();
    let trims = 0;
    const stop = trimWhileRunning(() => trims++);
    jest.advanceTimersByTime(TRIM_INTERVAL_MS * 3 + 1);
    expect(trims).toBe(3);
    stop();
    jest.advanceTimersByTime(TRIM_INTERVAL_MS * 5);
    expect(trims).toBe(3);
  });

  it('never keeps a process alive: a process that started the trims and forgot them ends at once, with the real malloc_trim', () => {
    const module = path.resolve(__dirname, '..', 'dist', 'startup-collection.js');
    // A timer that kept it alive would never let it end: spawnSync's timeout would kill it (status null).
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(module)}).trimWhileRunning(); process.stdout.write('started')`], { encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.signal, r.stdout]).toEqual([0, null, 'started']);
  }, 40_000);
});
