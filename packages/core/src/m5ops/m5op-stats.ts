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

const workKey = (workId: bigint, threadId: bigint) => `${workId}:${threadId}`;

function difference(now: ExitCounts, base: ExitCounts | undefined): ExitCounts {
  const out: ExitCounts = {};
  for (const [k, v] of Object.entries(now)) {
    const d = v - (base?.[k] ?? 0);
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
  }

  /** Record the period so far. */
  dump(by: string, vcpuId: number): M5StatsDump {
    const dump: M5StatsDump = Object.freeze({
      index: this.taken.length,
      by,
      vcpuId,
      periodNs: this.now() - this.periodStart,
      exits: this.counts().map((c, i) => difference(c, this.baseline[i])),
      work: [...this.periodWork],
      openWork: this.open.size,
      unmatchedWorkEnds: this.periodUnmatched,
    });
    this.taken.push(dump);
    return dump;
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
