/**
 * The run loop and exit dispatch, driven through an injected kvm_run area and a scripted
 * stand-in for KVM_RUN (no /dev/kvm): every stop path, the completion of pending I/O — including
 * an access KVM splits into two exits — and the one-channel rule for stop requests.
 */
import {
  AddressBuses,
  BaseKvmCPU,
  ControlSlot,
  GuestError,
  KvmError,
  KvmExitReason,
  KvmRunLayout as R,
  Stop,
  type AccessSize,
  type CpuStop,
  type Device,
  type HighWord,
  type ThreadContext,
} from '@kvmts/core';

const EINTR = 4;
const RUN_AREA_BYTES = 4096;

/** One KVM_RUN answer: write an exit into kvm_run and return 0, or return -errno. */
type Exit = ((run: DataView) => void) | { errno: number };
/**
 * A step of the script. Entries made with immediate_exit set (completing pending I/O) take only
 * steps marked `completing` — what KVM reports while finishing an access; otherwise they get
 * EINTR, as from KVM when nothing is pending.
 */
type Step = Exit | { completing: Exit };
const completing = (exit: Exit): Step => ({ completing: exit });

class TestContext implements ThreadContext {
  readonly arch = 'test';
  toJSON() {
    return { arch: this.arch };
  }
}

/** The smallest arch a CPU can be: no registers, so dispatch is all there is to test. */
class ScriptedCpu extends BaseKvmCPU<undefined, TestContext> {
  readonly arch = 'test';
  /** immediate_exit as KVM saw it on each call. */
  readonly entries: number[] = [];
  private readonly tc = new TestContext();
  constructor(private readonly script: Step[]) {
    const area = new ArrayBuffer(RUN_AREA_BYTES);
    super({
      handles: { id: 0, fd: -1, runMappingId: -1, runSize: RUN_AREA_BYTES, coalescedRingPage: 0 },
      buses: new AddressBuses([]),
      runArea: area,
      kvmRun: () => this.next(),
    });
  }
  private next(): number {
    const immediate = this.runBytes[R.immediate_exit];
    this.entries.push(immediate);
    const head = this.script[0];
    const forCompletion = head !== undefined && typeof head === 'object' && 'completing' in head;
    if (immediate === 1 && !forCompletion) return -EINTR;
    if (head === undefined) throw new RangeError('the script ran out while the loop still runs the guest');
    this.script.shift();
    const exit = forCompletion ? (head as { completing: Exit }).completing : (head as Exit);
    if (typeof exit === 'object') return -exit.errno;
    exit(this.run);
    return 0;
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

function mmioExit(addr: number, len: number, write: boolean, data = 0n): Exit {
  return (v) => {
    v.setUint32(R.exit_reason, KvmExitReason.MMIO, true);
    v.setBigUint64(R.mmio_phys_addr, BigInt(addr), true);
    v.setBigUint64(R.mmio_data, data, true);
    v.setUint32(R.mmio_len, len, true);
    v.setUint8(R.mmio_is_write, write ? 1 : 0);
  };
}
const exitOf = (reason: number): Exit => (v) => v.setUint32(R.exit_reason, reason, true);

/** Memory-like MMIO device that logs accesses as 'W8@0' / 'R8@8'. */
class LoggingMemory implements Device {
  readonly name = 'mem';
  readonly log: string[] = [];
  private readonly words = new Map<number, [number, number]>();
  constructor(private readonly onWrite?: (offset: number) => void) {}
  read(offset: number, size: AccessSize, out: HighWord): number {
    this.log.push(`R${size}@${offset}`);
    const [lo, hi] = this.words.get(offset) ?? [0, 0];
    out.high = hi;
    return lo;
  }
  write(offset: number, size: AccessSize, value: number, high: number): void {
    this.log.push(`W${size}@${offset}`);
    this.words.set(offset, [value, high]);
    this.onWrite?.(offset);
  }
}

const BASE = 0xd000_0000;

describe('BaseKvmCPU run loop (scripted KVM_RUN)', () => {
  it('dispatches MMIO writes and reads to the bus and answers reads in kvm_run', () => {
    const cpu = new ScriptedCpu([mmioExit(BASE + 8, 8, true, 0x1122334455667788n), mmioExit(BASE + 8, 8, false), exitOf(KvmExitReason.DEBUG)]);
    const mem = new LoggingMemory();
    cpu.mmio.attach({ base: BASE, size: 0x1000 }, mem);
    expect(cpu.runLoop()).toEqual({ reason: 'debug' });
    expect(mem.log).toEqual(['W8@8', 'R8@8']);
    // The read's answer is in kvm_run for KVM to load into the register on the next entry.
    expect(cpu.run.getBigUint64(R.mmio_data, true)).toBe(0x1122334455667788n);
    expect(cpu.exitCounts()).toMatchObject({ MMIO: 2, DEBUG: 1 });
  });

  it('state a handler read during an exit is pulled again after the completion entry finishes the access', () => {
    class CountingCpu extends ScriptedCpu {
      pulls = 0;
      protected override updateThreadContext(): void {
        this.pulls++;
      }
    }
    const cpu = new CountingCpu([mmioExit(BASE, 8, false)]);
    // Reads the state while serving the read and stops the run, as the m5op devices do.
    const reader: Device = {
      name: 'reader',
      read: (_offset, _size, out) => {
        cpu.getThreadContext();
        cpu.requestStop(Stop.debug);
        out.high = 0;
        return 0;
      },
      write: () => undefined,
    };
    cpu.mmio.attach({ base: BASE, size: 0x1000 }, reader);
    expect(cpu.runLoop()).toEqual({ reason: 'debug' });
    expect(cpu.pulls).toBe(1);
    // The completion entry (EINTR) loaded the register and advanced RIP in KVM: not the state read above.
    cpu.getThreadContext();
    expect(cpu.pulls).toBe(2);
  });

  it('a run stopped after every exit loses no half of a split 16-byte access', () => {
    // KVM splits `movdqu [mmio], xmm0` into two 8-byte writes: the second one is reported by the
    // KVM_RUN that completes the first — the completion entry a stopping run makes.
    const cpu = new ScriptedCpu([
      mmioExit(BASE, 8, true, 0x0807060504030201n),
      completing(mmioExit(BASE + 8, 8, true, 0x100f0e0d0c0b0a09n)),
      mmioExit(BASE, 8, false),
      completing(mmioExit(BASE + 8, 8, false)),
      exitOf(KvmExitReason.DEBUG),
    ]);
    const mem = new LoggingMemory();
    cpu.mmio.attach({ base: BASE, size: 0x1000 }, mem);
    const stops: string[] = [];
    for (let stop = cpu.runLoop(1); stop.reason !== 'debug'; stop = cpu.runLoop(1)) stops.push(stop.reason);
    expect(mem.log).toEqual(['W8@0', 'W8@8', 'R8@0', 'R8@8']);
    expect(stops).toEqual(['exit-limit', 'exit-limit']);
    // The second halves came from completion entries, with immediate_exit set.
    expect(cpu.entries).toEqual([0, 1, 1, 0, 1, 1, 0, 1]);
    expect(cpu.exitCounts()).toMatchObject({ MMIO: 4, completionExits: 2 });
  });

  it('a device power-off is the run\'s one stop, and it wins over the handler\'s own reason', () => {
    const cpu = new ScriptedCpu([mmioExit(BASE, 4, true, 7n)]);
    cpu.mmio.attach({ base: BASE, size: 0x1000 }, new LoggingMemory(() => cpu.requestStop(Stop.poweroff(7))));
    cpu.setExitHandler(KvmExitReason.MMIO, (c) => {
      c.getExitHandler(KvmExitReason.DEBUG); // handlers may inspect the table
      (c as ScriptedCpu).mmio.write(BASE, 4, 7, 0);
      return Stop.halted;
    });
    expect(cpu.runLoop()).toEqual({ reason: 'poweroff', status: 7 });
  });

  it('a stop requested outside a run does not leak into the next run', () => {
    const cpu = new ScriptedCpu([exitOf(KvmExitReason.INTR), exitOf(KvmExitReason.DEBUG)]);
    cpu.requestStop(Stop.poweroff(1));
    expect(cpu.runLoop()).toEqual({ reason: 'debug' });
  });

  it('a stop request from another thread ends the run as "stopped", completes pending I/O and is acknowledged', () => {
    const cpu = new ScriptedCpu([(v) => {
      // The kick arrives while the vCPU is in KVM_RUN: STOP is set, KVM_RUN returns EINTR.
      Atomics.store(cpu.control, ControlSlot.stop, 1);
      v.setUint32(R.exit_reason, KvmExitReason.INTR, true);
    }]);
    expect(cpu.runLoop()).toEqual({ reason: 'stopped' });
    expect(Atomics.load(cpu.control, ControlSlot.ack)).toBe(1);
    expect(cpu.entries[cpu.entries.length - 1]).toBe(1);
    expect(cpu.state).toBe('idle');
  });

  it('system events carry their type and data; plugins replace the DEBUG handler', () => {
    const cpu = new ScriptedCpu([
      (v) => {
        v.setUint32(R.exit_reason, KvmExitReason.SYSTEM_EVENT, true);
        v.setUint32(R.system_event_type, 2, true);
        v.setBigUint64(R.system_event_data, 5n, true);
      },
      exitOf(KvmExitReason.DEBUG),
      exitOf(KvmExitReason.DEBUG),
    ]);
    expect(cpu.runLoop()).toEqual({ reason: 'system-event', event: 2, flags: 5n });
    let debugExits = 0;
    cpu.setExitHandler(KvmExitReason.DEBUG, () => (++debugExits === 2 ? Stop.halted : undefined));
    expect(cpu.runLoop()).toEqual({ reason: 'halted' });
    expect(debugExits).toBe(2);
  });

  it('an exit reason nobody handles is a GuestError with a dump; the CPU is then failed', () => {
    const cpu = new ScriptedCpu([exitOf(KvmExitReason.HYPERCALL)]);
    let error: unknown;
    try {
      cpu.runLoop();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuestError);
    expect(error).toMatchObject({ kind: 'unknown-exit', details: { exitReason: KvmExitReason.HYPERCALL } });
    expect((error as GuestError).dump).toContain('(no registers)');
    expect(cpu.state).toBe('failed');
    expect(() => cpu.runLoop()).toThrow(/cannot run while failed/);
  });

  it('KVM_RUN failing with another errno is a KvmError naming KVM_RUN; a completion that never ends is reported', () => {
    expect(() => new ScriptedCpu([{ errno: 14 }]).runLoop()).toThrow(KvmError);
    // More than a `rep movs` can take (about 1023 exits before KVM returns EINTR): a loop.
    const endless: Step[] = [exitOf(KvmExitReason.DEBUG), ...Array.from({ length: 5000 }, () => completing(exitOf(KvmExitReason.INTR)))];
    const cpu = new ScriptedCpu(endless);
    expect(() => cpu.runLoop()).toThrow(/completing pending I\/O took more than 4096 KVM_RUN entries/);
    expect(cpu.state).toBe('failed');
  });

  it('drain() completes pending I/O outside a run: its exits are dispatched and the CPU stays idle', () => {
    const cpu = new ScriptedCpu([completing(mmioExit(BASE + 8, 8, true, 1n)), exitOf(KvmExitReason.DEBUG)]);
    const mem = new LoggingMemory();
    cpu.mmio.attach({ base: BASE, size: 0x1000 }, mem);
    expect(cpu.drain()).toBeUndefined();
    expect(mem.log).toEqual(['W8@8']);
    expect(cpu.state).toBe('idle');
    expect(cpu.runLoop()).toEqual({ reason: 'debug' });
  });

  it('exit-limit stops after exactly n exits', () => {
    const cpu = new ScriptedCpu(Array.from({ length: 10 }, () => exitOf(KvmExitReason.INTR)));
    expect(cpu.runLoop(3)).toEqual({ reason: 'exit-limit' });
    expect(cpu.exitCounts()).toMatchObject({ INTR: 3 });
  });
});
