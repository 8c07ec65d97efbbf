/**
 * BaseKvmCPU.setEntryHook: work an arch does before every KVM_RUN entry (x86's userspace
 * interrupt injection), driven through a stand-in kvm_run and KVM_RUN (no /dev/kvm).
 */
import { AddressBuses, BaseKvmCPU, ControlSlot, KvmExitReason, KvmRunLayout as R, type ThreadContext } from '@kvmts/core';

const RUN_AREA_BYTES = 4096;
const EINTR = 4;

class TestContext implements ThreadContext {
  readonly arch = 'test';
  toJSON() {
    return { arch: this.arch };
  }
}

/** Every KVM_RUN logs 'run' (or 'complete' when immediate_exit is set) and takes the next exit from `exits`. */
class LoggingCpu extends BaseKvmCPU<undefined, TestContext> {
  readonly arch = 'test';
  readonly log: string[] = [];
  private readonly tc = new TestContext();
  constructor(private readonly exits: ((cpu: LoggingCpu) => number)[]) {
    super({
      handles: { id: 0, fd: -1, runMappingId: -1, runSize: RUN_AREA_BYTES, coalescedRingPage: 0 },
      buses: new AddressBuses([]),
      runArea: new ArrayBuffer(RUN_AREA_BYTES),
      kvmRun: () => {
        if (this.runBytes[R.immediate_exit] === 1) {
          this.log.push('complete');
          return -EINTR;
        }
        this.log.push('run');
        const next = this.exits.shift();
        if (next === undefined) throw new RangeError('script ran out');
        return next(this);
      },
    });
  }
  protected updateKvmState(): void {}
  protected updateThreadContext(): void {}
  protected get threadContext(): TestContext {
    return this.tc;
  }
  protected loadThreadContext(): void {}
  dumpState(): string {
    return '';
  }
  applyInitialState(): void {}
}

/** An exit the CPU ignores (KVM_EXIT_INTR has a no-op handler in core). */
const intrExit = (cpu: LoggingCpu): number => {
  cpu.run.setUint32(R.exit_reason, KvmExitReason.INTR, true);
  return 0;
};
/** A signal: KVM_RUN answers EINTR. */
const signalled = (): number => -EINTR;

describe('BaseKvmCPU entry hook', () => {
  it('runs before every KVM_RUN entry — after an exit and after EINTR — but not for completing pending I/O', () => {
    const cpu = new LoggingCpu([intrExit, signalled, intrExit]);
    cpu.setEntryHook(() => cpu.log.push('hook'));
    expect(cpu.runLoop(2)).toEqual({ reason: 'exit-limit' });
    expect(cpu.log).toEqual(['hook', 'run', 'hook', 'run', 'hook', 'run', 'complete']);
  });

  it('does not run once a stop is requested (the stop check comes first), and is removable', () => {
    const cpu = new LoggingCpu([
      (c) => {
        Atomics.store(c.control, ControlSlot.stop, 1);
        return intrExit(c);
      },
      intrExit,
    ]);
    cpu.setEntryHook(() => cpu.log.push('hook'));
    expect(cpu.runLoop()).toEqual({ reason: 'stopped' });
    expect(cpu.log).toEqual(['hook', 'run', 'complete']);
    cpu.resume();
    cpu.setEntryHook(undefined);
    cpu.log.length = 0;
    expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
    expect(cpu.log).toEqual(['run', 'complete']);
  });
});
