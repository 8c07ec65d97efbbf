/**
 * The machine-state sections of a checkpoint (checkpoint/machine-state.ts), as pure logic: golden
 * values for the m5op statistics carried over a restore (ages, carried exits, open items), and the
 * checks on saved ticks and statistics (the checked-checkpoint cache warm restores read through:
 * checkpoint-verified-cache.test.ts). The KVM side —
 * a real guest continuing after a restore — is ckpt-gaps.kvm.test.ts in arch-x86.
 */
import { CheckpointError } from '../src/errors/errors';
import { M5opStats } from '../src/m5ops/m5op-stats';
import { M5ops } from '../src/m5ops/m5op-handlers';
import type { ExitCounts } from '../src/cpu/exit-stats';
import { m5opStatsSection, restoreM5opStats, savedTicks, simTimeSection } from '../src/checkpoint/machine-state';

describe('m5op statistics across a checkpoint', () => {
  it('ages, the period\'s exits and open items carry over; the restored side counts on from its own clock and counters', () => {
    // Saving side: clock at 10 000 ns, counters running.
    let counts: ExitCounts[] = [{ IO: 100, MMIO: 4 }];
    let clock = 10_000n;
    const a = new M5opStats(() => counts, () => clock);
    counts = [{ IO: 110, MMIO: 4 }];
    clock = 10_500n;
    a.reset(); // period from 10 500, baseline IO 110
    a.workBegin(1n, 0n, 0, 10_600n);
    a.workBegin(2n, 7n, 0, 10_700n);
    const first = a.workEnd(1n, 0n, 0, 10_900n)!;
    a.workEnd(5n, 5n, 0, 10_950n); // unmatched
    counts = [{ IO: 117, MMIO: 6 }];
    clock = 11_000n;
    a.dump('dumpstats', 0);
    const state = a.snapshot();
    expect(state).toEqual({
      periodAgeNs: 500n,
      periodExits: [{ IO: 7, MMIO: 2 }],
      open: [{ workId: 2n, threadId: 7n, vcpuId: 0, ageNs: 300n }],
      work: [first],
      periodWorkCount: 1,
      periodUnmatched: 1,
      dumps: [{ index: 0, by: 'dumpstats', vcpuId: 0, periodNs: 500n, exits: [{ IO: 7, MMIO: 2 }], work: [first], openWork: 1, unmatchedWorkEnds: 1 }],
    });

    // Restoring side: another clock origin, counters from 0.
    let counts2: ExitCounts[] = [{}];
    let clock2 = 1_000_000n;
    const b = new M5opStats(() => counts2, () => clock2);
    b.restore(state);
    counts2 = [{ IO: 3, HLT: 1 }];
    clock2 = 1_000_200n;
    const second = b.workEnd(2n, 7n, 0, 1_000_150n)!;
    expect(second).toEqual({ workId: 2n, threadId: 7n, beginVcpu: 0, endVcpu: 0, beginNs: 999_700n, endNs: 1_000_150n, durationNs: 450n });
    expect(b.dump('dumpstats', 0)).toEqual({
      index: 1,
      by: 'dumpstats',
      vcpuId: 0,
      periodNs: 700n, // 500 before the save + 200 after the restore
      exits: [{ IO: 10, MMIO: 2, HLT: 1 }], // 7 carried + 3 here; MMIO only before; HLT only after
      work: [first, second],
      openWork: 0,
      unmatchedWorkEnds: 1,
    });
    expect(b.workItems).toEqual([first, second]);
    // A reset drops what was carried.
    b.reset();
    counts2 = [{ IO: 4, HLT: 1 }];
    expect(b.dump('dumpstats', 0).exits).toEqual([{ IO: 1 }]);
  });

  it('a scheduled statistics action is refused by name; a damaged section is corrupt', async () => {
    const m = new M5ops(() => [{}]);
    expect(m5opStatsSection(m)).toMatchObject({ periodExits: [{}], open: [], work: [], dumps: [] });
    const vcpu = { id: 0, call: async <T>() => '' as T };
    await m.dispatch(vcpu, { reason: 'm5op', op: 'dumpstats', func: 0x41, args: [3_600_000_000_000n, 0n], hostTimeNs: 0n });
    expect(m.scheduledActions).toBe(1);
    const e = (() => {
      try {
        m5opStatsSection(m);
      } catch (err) {
        return err as CheckpointError;
      }
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e?.code).toBe('not-saveable');
    expect(e?.message).toMatch(/^m5op statistics: cannot be saved: 1 delayed or periodic statistics action\(s\)/);
    m.dispose();
    expect(m.scheduledActions).toBe(0);
    expect(() => restoreM5opStats(m, { periodAgeNs: 1, open: [] }, "ck section 'machine.m5op-stats'")).toThrow(
      new CheckpointError("ck section 'machine.m5op-stats'", 'does not hold m5op statistics (periodAgeNs, periodExits, open, work, periodWorkCount, periodUnmatched, dumps)', { code: 'corrupt' }),
    );
  });

  it('saved ticks: one bigint ≥ 0 per vCPU, anything else corrupt', () => {
    expect(savedTicks(simTimeSection([5n, 0n]), 2, 'w')).toEqual([5n, 0n]);
    for (const bad of [null, {}, { ticks: [1n] }, { ticks: [1n, -1n] }, { ticks: [1n, 2] }]) {
      expect(() => savedTicks(bad, 2, 'w')).toThrow(new CheckpointError('w', 'must hold { ticks: [2 bigint(s) ≥ 0] }, one per vCPU', { code: 'corrupt' }));
    }
  });
});
