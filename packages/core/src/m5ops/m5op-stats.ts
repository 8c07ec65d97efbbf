/**
 * What gem5's statistics m5ops act on in kvmts. kvmts simulates no microarchitecture, so its
 * statistics are what a KVM CPU can count: every vCPU's exits by kind (the same counters as
 * `machine.exitCounts()`), the host time since the last reset, and the work items the guest
 * marked with workbegin/workend. resetstats starts a new period (the counters themselves are
 * never written: the period is a baseline subtracted from them, so a vCPU thread counting at
 * the same moment loses nothing); dumpstats records the period so far.
 */
import type { ExitCounts } from '../cpu/exit-stats';

/** One workbegin/workend pair, timed on the host's monotonic clock when the vCPU took the exit. */
export interface M5WorkItem {
  readonly workId: bigint;
  readonly threadId: bigint;
  readonly beginVcpu: number;
  readonly endVcpu: number;
  readonly beginNs: bigint;
  readonly endNs: bigint;
  readonly durationNs: bigint;
}

/** One statistics dump (dumpstats / dumpresetstats, or a dump the owner asked for). */
export interface M5StatsDump {
  /** 0, 1, … in the order the dumps were taken. */
  readonly index: number;
  /** The op that took it, or 'host' when the owner called dumpStats(). */
  readonly by: string;
  /** vCPU whose op took it (-1 for the host, or a delayed/periodic dump). */
  readonly vcpuId: number;
  /** Host time the period covers, in ns (from the last reset to the dump). */
  readonly periodNs: bigint;
  /** Exits per vCPU during the period, by kind (non-zero kinds only). */
  readonly exits: readonly ExitCounts[];
  /** Work items that ended during the period. */
  readonly work: readonly M5WorkItem[];
  /** workbegin calls still open at the dump. */
  readonly openWork: number;
  /** workend calls during the period with no matching workbegin. */
  readonly unmatchedWorkEnds: number;
}

/**
 * The statistics as a checkpoint carries them (checkpoint/machine-state.ts). Host times become
 * ages at the save — how long the period and each open work item had run — because the host
 * clock of another process (or after a reboot) has another origin; a restore counts them on from
 * its own clock, so time spent on disk does not pass for them (as for the guest's clock). The
 * period's exits so far are carried too: a restored machine's exit counters start again at 0.
 * Completed work items and dumps are kept as they were taken (their ns on the saving host's clock).
 */
export interface M5StatsState {
  readonly periodAgeNs: bigint;
  /** Exits per vCPU since the last reset, by kind. */
  readonly periodExits: readonly ExitCounts[];
  readonly open: readonly { readonly workId: bigint; readonly threadId: bigint; readonly vcpuId: number; readonly ageNs: bigint }[];
  readonly work: readonly M5WorkItem[];
  /** How many of `work` (the last ones) ended in the current period. */
  readonly periodWorkCount: number;
  readonly periodUnmatched: number;
  readonly dumps: readonly M5StatsDump[];
}

const workKey = (workId: bigint, threadId: bigint) => `${workId}:${threadId}`;

function difference(now: ExitCounts, base: ExitCounts | undefined, carried?: ExitCounts): ExitCounts {
  const out: ExitCounts = {};
  for (const k of new Set([...Object.keys(now), ...Object.keys(carried ?? {})])) {
    const d = (now[k] ?? 0) - (base?.[k] ?? 0) + (carried?.[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

export class M5opStats {
  private baseline: ExitCounts[];
  private periodStart: bigint;
  private readonly open = new Map<string, { vcpuId: number; beginNs: bigint }>();
  private readonly allWork: M5WorkItem[] = [];
  private periodWork: M5WorkItem[] = [];
  private periodUnmatched = 0;
  private readonly taken: M5StatsDump[] = [];
  /** The period's exits before a restore (the counters then started again): added to every dump until the next reset. */
  private carried: readonly ExitCounts[] = [];

  constructor(private readonly counts: () => ExitCounts[], private readonly now: () => bigint = () => process.hrtime.bigint()) {
    this.baseline = counts();
    this.periodStart = now();
  }

  /** Start a new period: exits, work items and unmatched ends count from here. */
  reset(): void {
    this.baseline = this.counts();
    this.periodStart = this.now();
    this.periodWork = [];
    this.periodUnmatched = 0;
    this.carried = [];
  }

  /** Record the period so far. */
  dump(by: string, vcpuId: number): M5StatsDump {
    const dump: M5StatsDump = Object.freeze({
      index: this.taken.length,
      by,
      vcpuId,
      periodNs: this.now() - this.periodStart,
      exits: this.periodExits(),
      work: [...this.periodWork],
      openWork: this.open.size,
      unmatchedWorkEnds: this.periodUnmatched,
    });
    this.taken.push(dump);
    return dump;
  }

  /** Exits per vCPU since the last reset (carried over a restore included). */
  private periodExits(): ExitCounts[] {
    return this.counts().map((c, i) => difference(c, this.baseline[i], this.carried[i]));
  }

  /** Everything a checkpoint carries (see M5StatsState). */
  snapshot(): M5StatsState {
    const now = this.now();
    return {
      periodAgeNs: now - this.periodStart,
      periodExits: this.periodExits(),
      open: [...this.open.entries()].map(([key, b]) => {
        const [workId, threadId] = key.split(':').map((n) => BigInt(n));
        return { workId, threadId, vcpuId: b.vcpuId, ageNs: now - b.beginNs };
      }),
      work: [...this.allWork],
      periodWorkCount: this.periodWork.length,
      periodUnmatched: this.periodUnmatched,
      dumps: [...this.taken],
    };
  }

  /** Continue from a checkpoint's statistics: everything here is replaced (see M5StatsState). */
  restore(state: M5StatsState): void {
    const now = this.now();
    this.baseline = this.counts();
    this.carried = state.periodExits.map((c) => ({ ...c }));
    this.periodStart = now - state.periodAgeNs;
    this.open.clear();
    for (const o of state.open) this.open.set(workKey(o.workId, o.threadId), { vcpuId: o.vcpuId, beginNs: now - o.ageNs });
    this.allWork.length = 0;
    this.allWork.push(...state.work.map((w) => Object.freeze({ ...w })));
    this.periodWork = state.periodWorkCount > 0 ? this.allWork.slice(-state.periodWorkCount) : [];
    this.periodUnmatched = state.periodUnmatched;
    this.taken.length = 0;
    this.taken.push(...state.dumps.map((d) => Object.freeze({ ...d })));
  }

  /** workbegin: a second begin of the same (workId, threadId) restarts it. */
  workBegin(workId: bigint, threadId: bigint, vcpuId: number, atNs: bigint): void {
    this.open.set(workKey(workId, threadId), { vcpuId, beginNs: atNs });
  }

  /** workend: completes the matching begin; without one it is counted as unmatched and returned undefined. */
  workEnd(workId: bigint, threadId: bigint, vcpuId: number, atNs: bigint): M5WorkItem | undefined {
    const key = workKey(workId, threadId);
    const begin = this.open.get(key);
    if (!begin) {
      this.periodUnmatched++;
      return undefined;
    }
    this.open.delete(key);
    const item: M5WorkItem = Object.freeze({ workId, threadId, beginVcpu: begin.vcpuId, endVcpu: vcpuId, beginNs: begin.beginNs, endNs: atNs, durationNs: atNs - begin.beginNs });
    this.allWork.push(item);
    this.periodWork.push(item);
    return item;
  }

  /** Every completed work item since the machine was made (resets do not clear this list). */
  get workItems(): readonly M5WorkItem[] {
    return this.allWork;
  }

  /** Every dump taken, oldest first. */
  get dumps(): readonly M5StatsDump[] {
    return this.taken;
  }
}
