/**
 * runFor's mechanism without /dev/kvm: the real run loop, SimulatedTime and timer thread, with
 * a stand-in for KVM_RUN that "runs the guest" until a stop request arrives (as KVM_RUN does
 * until the timer's kick), or ends the run itself. The same paths run on real KVM in
 * arch-x86's instruction-stops.kvm.test.ts.
 */
import {
  AddressBuses,
  BaseKvmCPU,
  ConfigError,
  ControlSlot,
  KvmExitReason,
  KvmRunLayout as R,
  SimulatedTime,
  TICKS_PER_SECOND,
  detectPmu,
  setNoticeSink,
  type ThreadContext,
} from '@kvmts/core';

const EINTR = 4;
const RUN_AREA_BYTES = 4096;

class TestContext implements ThreadContext {
  readonly arch = 'test';
  toJSON() {
    return { arch: this.arch };
  }
}

/** KVM_RUN stand-in: spins until stopped, or reports a system event after `exitAfterMs`. */
class SpinningCpu extends BaseKvmCPU<undefined, TestContext> {
  readonly arch = 'test';
  entries = 0;
  exitAfterMs = Infinity;
  private readonly tc = new TestContext();
  constructor() {
    super({
      handles: { id: 0, fd: -1, runMappingId: -1, runSize: RUN_AREA_BYTES, coalescedRingPage: 0 },
      buses: new AddressBuses([]),
      runArea: new ArrayBuffer(RUN_AREA_BYTES),
      kvmRun: () => this.kvmRunStandIn(),
    });
  }
  private kvmRunStandIn(): number {
    this.entries++;
    if (this.runBytes[R.immediate_exit] === 1) return -EINTR;
    const end = performance.now() + this.exitAfterMs;
    while (Atomics.load(this.control, ControlSlot.stop) === 0) {
      if (performance.now() >= end) {
        this.run.setUint32(R.exit_reason, KvmExitReason.SYSTEM_EVENT, true);
        this.run.setUint32(R.system_event_type, 2, true);
        return 0;
      }
    }
    return -EINTR;
  }
  protected updateKvmState(): void {}
  protected updateThreadContext(): void {}
  protected get threadContext(): TestContext {
    return this.tc;
  }
  protected loadThreadContext(): void {}
  dumpState(): string {
    return '(no registers)';
  }
  applyInitialState(): void {}
}

describe('runFor: a run timer ends the run through the stop path', () => {
  let restore: ((line: string) => void) | undefined;
  const notices: string[] = [];
  beforeAll(() => {
    restore = setNoticeSink((l) => notices.push(l));
  });
  afterAll(() => setNoticeSink(restore!));

  it('ends a spinning run with reason time after at least the budget, leaving no stop behind', () => {
    const cpu = new SpinningCpu();
    try {
      const budget = TICKS_PER_SECOND / 500n; // 2 ms at factor 1
      const stop = cpu.runFor(budget);
      expect(stop.reason).toBe('time');
      if (stop.reason === 'time') expect(stop.ticks).toBeGreaterThanOrEqual(budget);
      expect(cpu.timing.ticks).toBe(stop.reason === 'time' ? stop.ticks : -1n);
      expect(Atomics.load(cpu.control, ControlSlot.stop)).toBe(0);
      expect(cpu.runBytes[R.immediate_exit]).toBe(0);
      // Twice more: the timer thread is reused and time adds up.
      expect(cpu.runFor(budget).reason).toBe('time');
      expect(cpu.runFor(budget).reason).toBe('time');
      expect(cpu.timing.ticks).toBeGreaterThanOrEqual(3n * budget);
    } finally {
      cpu.close();
    }
  });

  it('a run that ends on its own first returns its stop, and the disarmed timer never fires into the next run', () => {
    const cpu = new SpinningCpu();
    try {
      cpu.exitAfterMs = 1;
      expect(cpu.runFor(TICKS_PER_SECOND)).toEqual({ reason: 'system-event', event: 2, flags: 0n });
      expect(Atomics.load(cpu.control, ControlSlot.stop)).toBe(0);
      // 30 ms later the 1 s timer, had it stayed armed, would still be pending: run again and
      // see the next run also end on its own.
      cpu.exitAfterMs = 30;
      expect(cpu.runFor(TICKS_PER_SECOND).reason).toBe('system-event');
      expect(cpu.timing.ticks).toBeGreaterThan(0n);
    } finally {
      cpu.close();
    }
  });

  it('hostFactor scales the host time a budget takes (factor 4: a quarter)', () => {
    const cpu = new SpinningCpu();
    const time = new SimulatedTime(cpu, { hostFactor: 4, hostFreq: 1_000_000_000 });
    try {
      const budget = TICKS_PER_SECOND / 100n; // 10 ms simulated = 2.5 ms host
      const t0 = process.hrtime.bigint();
      const stop = time.runFor(budget);
      const hostNs = process.hrtime.bigint() - t0;
      expect(stop.reason).toBe('time');
      expect(hostNs).toBeGreaterThanOrEqual(2_500_000n);
      expect(time.ticks).toBeGreaterThanOrEqual(budget);
    } finally {
      time.close();
      cpu.close();
    }
  });

  it('bad budgets and CPUs without guest debug are ConfigErrors', () => {
    const cpu = new SpinningCpu();
    try {
      for (const bad of [0n, -5n, 5 as unknown as bigint]) expect(() => cpu.runFor(bad)).toThrow(ConfigError);
      expect(() => cpu.runInstructions(1)).toThrow(/offers no guest debug/);
      expect(() => new SimulatedTime(cpu, { hostFactor: 0 })).toThrow(/timing\.hostFactor/);
    } finally {
      cpu.close();
    }
  });

  it('the PMU probe answers, and the fallback notice is given once', () => {
    const status = detectPmu();
    if (!status.available) expect(status.reason).toMatch(/^E[A-Z]+$/);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^kvmts: (no hardware PMU \(perf_event_open: E[A-Z]+\)|hardware PMU found).*simulated time follows the monotonic clock, instruction stops single-step$/);
  });
});
