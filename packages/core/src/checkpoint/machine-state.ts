/**
 * The machine's own run state in a checkpoint — neither a device's nor the arch's: every vCPU's
 * simulated ticks and the m5op statistics. Two sections every machine writes and every restore
 * requires (a checkpoint without them is `missing`, naming the section):
 *
 *   machine.sim-time     { ticks: bigint[] } by vCPU id: a restored vCPU's clock (runFor,
 *                        runInstructions, plain runs) continues from the saved count
 *   machine.m5op-stats   M5StatsState (m5ops/m5op-stats.ts): the period, its exits, open and
 *                        completed work items, dumps taken
 *
 * What cannot be carried is refused (`not-saveable`): a delayed or periodic statistics action
 * the guest scheduled (dumpstats with a delay or period) waits on a host timer of this process.
 */
import { CheckpointError } from '../errors/errors';
import type { M5ops } from '../m5ops/m5op-handlers';
import type { M5StatsState } from '../m5ops/m5op-stats';

export const SIM_TIME_SECTION = 'machine.sim-time';
export const M5OP_STATS_SECTION = 'machine.m5op-stats';
export const SIM_TIME_VERSION = 1;
export const M5OP_STATS_VERSION = 1;
/** Every machine's state sections, with the version each is written in. */
export const MACHINE_STATE_SECTIONS: ReadonlyMap<string, number> = new Map([
  [SIM_TIME_SECTION, SIM_TIME_VERSION],
  [M5OP_STATS_SECTION, M5OP_STATS_VERSION],
]);

export interface SimTimeSection {
  readonly ticks: readonly bigint[];
}

export function simTimeSection(ticks: readonly bigint[]): SimTimeSection {
  return { ticks: [...ticks] };
}

/** The saved ticks of `vcpus` vCPUs, checked (`corrupt` naming the section when they do not fit). */
export function savedTicks(data: unknown, vcpus: number, where: string): bigint[] {
  const ticks = (data as Partial<SimTimeSection> | null)?.ticks;
  if (!Array.isArray(ticks) || ticks.length !== vcpus || ticks.some((t) => typeof t !== 'bigint' || t < 0n)) {
    throw new CheckpointError(where, `must hold { ticks: [${vcpus} bigint(s) ≥ 0] }, one per vCPU`, { code: 'corrupt' });
  }
  return ticks as bigint[];
}

/** The m5op statistics to save; refuses what waits on a host timer. */
export function m5opStatsSection(m5ops: M5ops): M5StatsState {
  const pending = m5ops.scheduledActions;
  if (pending > 0) {
    throw new CheckpointError('m5op statistics', `cannot be saved: ${pending} delayed or periodic statistics action(s) (dumpstats/resetstats with a delay or period) wait on host timers of this process; checkpoint before the guest schedules them or after they ran`, { code: 'not-saveable' });
  }
  return m5ops.stats.snapshot();
}

const isBigint = (v: unknown): v is bigint => typeof v === 'bigint';

/** Put saved statistics back; a section of the wrong shape is `corrupt`, naming it. */
export function restoreM5opStats(m5ops: M5ops, data: unknown, where: string): void {
  const s = data as Partial<M5StatsState> | null;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    isBigint(s.periodAgeNs) &&
    Array.isArray(s.periodExits) &&
    Array.isArray(s.open) &&
    s.open.every((o) => o !== null && typeof o === 'object' && isBigint(o.workId) && isBigint(o.threadId) && isBigint(o.ageNs) && Number.isInteger(o.vcpuId)) &&
    Array.isArray(s.work) &&
    Number.isInteger(s.periodWorkCount) &&
    s.periodWorkCount! >= 0 &&
    s.periodWorkCount! <= s.work.length &&
    Number.isInteger(s.periodUnmatched) &&
    Array.isArray(s.dumps);
  if (!ok) throw new CheckpointError(where, 'does not hold m5op statistics (periodAgeNs, periodExits, open, work, periodWorkCount, periodUnmatched, dumps)', { code: 'corrupt' });
  // The saved machine had no action on a timer (the save refuses them): neither has the restored one.
  m5ops.dispose();
  m5ops.stats.restore(s as M5StatsState);
}
