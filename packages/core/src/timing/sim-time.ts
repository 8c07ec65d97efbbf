/**
 * Simulated time, as gem5's KVM CPU keeps it: guest time advances by the host cycles a run
 * took, scaled by `hostFactor` and converted to ticks at `hostFreq`. A tick is one picosecond
 * (gem5's default resolution, 10^12 ticks per simulated second), so a tick count fits a bigint
 * and never loses precision as a run accumulates.
 *
 *   ticks        = hostCycles × hostFactor × TICKS_PER_SECOND / hostFreq
 *   hostCycles   = ticks / hostFactor × hostFreq / TICKS_PER_SECOND      (a run-timer budget)
 *   host ns      = hostCycles × 10^9 / hostFreq
 *
 * Pure functions: no clock is read here (see cycle-source.ts for where cycles come from).
 */
import { ConfigError } from '../errors/errors';

/** Ticks per simulated second (1 tick = 1 ps, gem5's default). */
export const TICKS_PER_SECOND = 1_000_000_000_000n;

export interface SimTimeOptions {
  /** Frequency of the host cycle source in Hz (gem5's `hostFreq`, default 2 GHz). */
  readonly hostFreq?: number;
  /**
   * Simulated time per host cycle (gem5's `hostFactor`, default 1): 2 makes the guest's time
   * run twice as fast as the host cycles it took, 0.5 half as fast.
   */
  readonly hostFactor?: number;
}

export interface SimTimeConfig {
  readonly hostFreq: number;
  readonly hostFactor: number;
}

export const DEFAULT_SIM_TIME: SimTimeConfig = Object.freeze({ hostFreq: 2e9, hostFactor: 1 });

/** Validate and complete the options; `setting` names the config path in errors. */
export function simTimeConfig(options: SimTimeOptions = {}, setting = 'timing'): SimTimeConfig {
  const hostFreq = options.hostFreq ?? DEFAULT_SIM_TIME.hostFreq;
  const hostFactor = options.hostFactor ?? DEFAULT_SIM_TIME.hostFactor;
  if (typeof hostFreq !== 'number' || !Number.isFinite(hostFreq) || hostFreq < 1 || !Number.isInteger(hostFreq)) {
    throw new ConfigError(`${setting}.hostFreq`, `must be a whole number of Hz ≥ 1, got ${String(hostFreq)}`);
  }
  if (typeof hostFactor !== 'number' || !Number.isFinite(hostFactor) || hostFactor <= 0) {
    throw new ConfigError(`${setting}.hostFactor`, `must be a finite number > 0, got ${String(hostFactor)}`);
  }
  return { hostFreq, hostFactor };
}

/**
 * hostFactor as an exact fraction num/den (den a power of ten up to 10^9), so tick arithmetic
 * stays in bigints: 1 → 1/1, 0.5 → 5/10, 1.25 → 125/100.
 */
function factorFraction(hostFactor: number): [bigint, bigint] {
  let den = 1;
  while (den < 1e9 && !Number.isInteger(hostFactor * den)) den *= 10;
  return [BigInt(Math.round(hostFactor * den)), BigInt(den)];
}

/** Host cycles → simulated ticks (rounded down: time never runs ahead of what was measured). */
export function cyclesToTicks(cycles: bigint, config: SimTimeConfig): bigint {
  if (cycles < 0n) throw new RangeError(`host cycles must be ≥ 0, got ${cycles}`);
  const [num, den] = factorFraction(config.hostFactor);
  return (cycles * num * TICKS_PER_SECOND) / (den * BigInt(config.hostFreq));
}

/** Simulated ticks → the host cycles they take (rounded up: a timer set from it never ends a run early). */
export function ticksToCycles(ticks: bigint, config: SimTimeConfig): bigint {
  if (ticks < 0n) throw new RangeError(`ticks must be ≥ 0, got ${ticks}`);
  const [num, den] = factorFraction(config.hostFactor);
  const n = ticks * den * BigInt(config.hostFreq);
  const d = num * TICKS_PER_SECOND;
  return (n + d - 1n) / d;
}

/** Host cycles → host nanoseconds at hostFreq (rounded up, for timers). */
export function cyclesToNs(cycles: bigint, config: SimTimeConfig): bigint {
  const f = BigInt(config.hostFreq);
  return (cycles * 1_000_000_000n + f - 1n) / f;
}

/** Host nanoseconds → host cycles at hostFreq (rounded down, for a clock-based cycle source). */
export function nsToCycles(ns: bigint, config: SimTimeConfig): bigint {
  return (ns * BigInt(config.hostFreq)) / 1_000_000_000n;
}

/** The host time a tick budget takes: what a run timer is set to. */
export function ticksToHostNs(ticks: bigint, config: SimTimeConfig): bigint {
  return cyclesToNs(ticksToCycles(ticks, config), config);
}
