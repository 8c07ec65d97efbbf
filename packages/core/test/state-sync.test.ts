/**
 * The state-sync contract of BaseKvmCPU, without /dev/kvm: when the template methods
 * (invalidateThreadContext, updateThreadContext, updateKvmState) are called for an arch that
 * syncs eagerly (the default) and for one that syncs lazily, part by part.
 */
import { AddressBuses, BaseKvmCPU, KvmExitReason, KvmRunLayout as R, type ThreadContext } from '@kvmts/core';

const RUN_AREA_BYTES = 4096;
const EINTR = 4;

/** A context of two parts, each a number, as a stand-in for register groups. */
class PartsContext implements ThreadContext {
  readonly arch = 'test';
  constructor(readonly parts: { a: number; b: number } = { a: 0, b: 0 }) {}
  toJSON() {
    return { arch: this.arch, ...this.parts };
  }
}

/**
 * A CPU over a fake KVM that holds parts a and b. Every KVM_RUN is one exit that adds 1 to both.
 * `calls` records the template-method calls and every part pulled or pushed.
 */
class SyncCpu extends BaseKvmCPU<undefined, PartsContext> {
  readonly arch = 'test';
  readonly kvm = { a: 10, b: 20 };
  readonly calls: string[] = [];
  protected readonly tc = new PartsContext();
  constructor() {
    super({
      handles: { id: 0, fd: -1, runMappingId: -1, runSize: RUN_AREA_BYTES, coalescedRingPage: 0 },
      buses: new AddressBuses([]),
      runArea: new ArrayBuffer(RUN_AREA_BYTES),
      kvmRun: () => this.enter(),
    });
    this.setExitHandler(KvmExitReason.HLT, () => undefined);
  }
  private enter(): number {
    if (this.runBytes[R.immediate_exit] === 1) return -EINTR;
    this.kvm.a++;
    this.kvm.b++;
    this.run.setUint32(R.exit_reason, KvmExitReason.HLT, true);
    return 0;
  }
  protected updateKvmState(): void {
    this.calls.push('push');
    this.kvm.a = this.tc.parts.a;
    this.kvm.b = this.tc.parts.b;
  }
  protected updateThreadContext(): void {
    this.calls.push('pull');
    this.tc.parts.a = this.kvm.a;
    this.tc.parts.b = this.kvm.b;
  }
  protected get threadContext(): PartsContext {
    return this.tc;
  }
  protected loadThreadContext(tc: PartsContext): void {
    Object.assign(this.tc.parts, tc.parts);
  }
  dumpState(): string {
    return '';
  }
  applyInitialState(): void {}
}

/** The same fake KVM, synced lazily: invalidation forgets, each part is pulled when first read and pushed only when set. */
class LazySyncCpu extends SyncCpu {
  private readonly held = { a: 0, b: 0 };
  private valid = { a: false, b: false };
  private dirty = { a: false, b: false };
  protected override readonly tc = new PartsContext(this.lazyParts());
  private lazyParts(): { a: number; b: number } {
    const part = (k: 'a' | 'b') => ({
      get: (): number => {
        if (!this.valid[k]) {
          this.calls.push(`pull ${k}`);
          this.held[k] = this.kvm[k];
          this.valid[k] = true;
        }
        return this.held[k];
      },
      set: (v: number): void => {
        this.held[k] = v;
        this.valid[k] = true;
        this.dirty[k] = true;
      },
      enumerable: true,
    });
    return Object.defineProperties({} as { a: number; b: number }, { a: part('a'), b: part('b') });
  }
  protected override invalidateThreadContext(): void {
    this.calls.push('invalidate');
    this.valid = { ...this.dirty };
  }
  protected override updateThreadContext(): void {
    this.calls.push('complete');
    void this.tc.parts.a;
    void this.tc.parts.b;
  }
  protected override updateKvmState(): void {
    this.calls.push('push');
    for (const k of ['a', 'b'] as const) if (this.dirty[k]) this.kvm[k] = this.held[k];
    this.dirty = { a: false, b: false };
  }
}

describe('BaseKvmCPU state-sync contract', () => {
  it('eager arch (default): a read after a run pulls everything once; a second read pulls nothing', () => {
    const cpu = new SyncCpu();
    cpu.runLoop(1);
    expect(cpu.getThreadContext().parts).toEqual({ a: 11, b: 21 });
    cpu.getThreadContext();
    expect(cpu.calls).toEqual(['pull']);
  });

  it('lazy arch: a read after a run only invalidates, and a part is pulled when first read', () => {
    const cpu = new LazySyncCpu();
    cpu.runLoop(1);
    const tc = cpu.getThreadContext();
    expect(cpu.calls).toEqual(['invalidate']);
    expect(tc.parts.a).toBe(11);
    expect(tc.parts.a).toBe(11);
    expect(cpu.calls).toEqual(['invalidate', 'pull a']);
  });

  it('a modification is pushed once before the next run, after the untouched parts were synced', () => {
    const cpu = new SyncCpu();
    cpu.runLoop(1);
    cpu.markThreadContextDirty();
    cpu.getThreadContext().parts.a = 100;
    cpu.runLoop(1);
    expect(cpu.kvm).toEqual({ a: 101, b: 22 });
    expect(cpu.calls).toEqual(['pull', 'push']);
  });

  it('switchOut writes modifications back, then completes the context, so it holds them and every part', () => {
    const cpu = new LazySyncCpu();
    cpu.runLoop(1);
    cpu.markThreadContextDirty();
    cpu.getThreadContext().parts.a = 100;
    const tc = cpu.switchOut();
    expect(cpu.calls).toEqual(['invalidate', 'push', 'complete', 'pull b']);
    expect(tc.toJSON()).toEqual({ arch: 'test', a: 100, b: 21 });
    expect(cpu.state).toBe('switched-out');
  });

  it('switchOut on an eager arch hands over the state KVM holds, with no modification lost', () => {
    const cpu = new SyncCpu();
    cpu.runLoop(1);
    const tc = cpu.switchOut();
    expect(tc.toJSON()).toEqual({ arch: 'test', a: 11, b: 21 });
  });

  it('takeOverFrom loads the context and pushes it before returning', () => {
    const from = new LazySyncCpu();
    from.runLoop(2);
    const to = new SyncCpu();
    to.takeOverFrom(from);
    expect(to.kvm).toEqual({ a: 12, b: 22 });
    expect(to.calls).toEqual(['push']);
  });
});
