import {
  ConfigError,
  DEFAULT_SIM_TIME,
  TICKS_PER_SECOND,
  cyclesToNs,
  cyclesToTicks,
  nsToCycles,
  simTimeConfig,
  ticksToCycles,
  ticksToHostNs,
} from '../src';

describe('simulated time conversions (gem5: ticks = cycles × hostFactor at hostFreq)', () => {
  const base = simTimeConfig();
  const fast = simTimeConfig({ hostFactor: 2 });
  const slow = simTimeConfig({ hostFactor: 0.5 });
  const odd = simTimeConfig({ hostFreq: 3_000_000_000, hostFactor: 1.25 });

  it('defaults are gem5’s: 2 GHz, factor 1, 1 tick = 1 ps', () => {
    expect(base).toEqual({ hostFreq: 2e9, hostFactor: 1 });
    expect(DEFAULT_SIM_TIME).toEqual(base);
    expect(TICKS_PER_SECOND).toBe(1_000_000_000_000n);
  });

  it('host cycles → ticks (golden values, rounded down)', () => {
    expect(cyclesToTicks(2_000_000_000n, base)).toBe(TICKS_PER_SECOND);
    expect(cyclesToTicks(1n, base)).toBe(500n);
    expect(cyclesToTicks(1n, fast)).toBe(1000n);
    expect(cyclesToTicks(1n, slow)).toBe(250n);
    expect(cyclesToTicks(3n, odd)).toBe(1250n);
    expect(cyclesToTicks(1n, odd)).toBe(416n); // 416.67 rounded down
    expect(cyclesToTicks(0n, base)).toBe(0n);
  });

  it('ticks → host cycles (golden values, rounded up) and to the host ns a run timer waits', () => {
    expect(ticksToCycles(1000n, base)).toBe(2n);
    expect(ticksToCycles(1001n, base)).toBe(3n);
    expect(ticksToCycles(1000n, fast)).toBe(1n);
    expect(ticksToCycles(1000n, slow)).toBe(4n);
    expect(ticksToCycles(1250n, odd)).toBe(3n);
    // 10 ms simulated at factor 4 and 1 GHz = 2.5 ms of host time
    expect(ticksToHostNs(TICKS_PER_SECOND / 100n, simTimeConfig({ hostFactor: 4, hostFreq: 1e9 }))).toBe(2_500_000n);
    expect(ticksToHostNs(TICKS_PER_SECOND, base)).toBe(1_000_000_000n);
    expect(cyclesToNs(3n, base)).toBe(2n); // 1.5 ns rounded up
    expect(nsToCycles(1000n, base)).toBe(2000n);
    expect(nsToCycles(1n, simTimeConfig({ hostFreq: 1_500_000_000 }))).toBe(1n); // 1.5 rounded down
  });

  it('a budget converted to host time and measured back is never short of the budget', () => {
    for (const config of [base, fast, slow, odd]) {
      for (const ticks of [1n, 999n, 1001n, 123_456_789n, TICKS_PER_SECOND / 3n]) {
        const ns = ticksToHostNs(ticks, config);
        expect(cyclesToTicks(nsToCycles(ns, config), config)).toBeGreaterThanOrEqual(ticks);
      }
    }
  });

  it('bad settings are ConfigErrors naming the setting', () => {
    for (const hostFreq of [0, -1, 1.5, Number.NaN, Infinity]) {
      expect(() => simTimeConfig({ hostFreq })).toThrow(ConfigError);
      expect(() => simTimeConfig({ hostFreq })).toThrow(/^timing\.hostFreq: must be a whole number of Hz/);
    }
    for (const hostFactor of [0, -2, Number.NaN, Infinity]) {
      expect(() => simTimeConfig({ hostFactor }, 'cpus[0].timing')).toThrow(/^cpus\[0\]\.timing\.hostFactor: must be a finite number > 0/);
    }
    expect(() => cyclesToTicks(-1n, base)).toThrow(RangeError);
    expect(() => ticksToCycles(-1n, base)).toThrow(RangeError);
  });
});
