/**
 * The CPU-switching contract (cpu/switching.ts) with two toy CPU models of a made-up arch: the
 * hand-over moves the context once, memory is shared within one memory and copied across two,
 * and every misuse is a typed error naming the CPU.
 */
import { deserializeError, serializeError } from '../src/errors/serialize';
import { ConfigError, HandOverSlot, LifecycleError, claimHandOver, copyGuestMemory, type SwitchMemory, type SwitchState, type SwitchableCpu, type ThreadContext } from '@kvmts/core';

class ToyContext implements ThreadContext {
  constructor(
    readonly arch: string,
    public pc: number,
  ) {}
  toJSON(): unknown {
    return { arch: this.arch, pc: this.pc };
  }
}

class ToyMemory implements SwitchMemory {
  readonly ranges: { gpa: number; size: number }[];
  private readonly parts: { gpa: number; bytes: Uint8Array }[];
  constructor(...ranges: [number, number][]) {
    this.ranges = ranges.map(([gpa, size]) => ({ gpa, size }));
    this.parts = ranges.map(([gpa, size]) => ({ gpa, bytes: new Uint8Array(size) }));
  }
  bytes(gpa: number, length: number): Uint8Array {
    const p = this.parts.find((q) => gpa >= q.gpa && gpa + length <= q.gpa + q.bytes.length);
    if (!p) throw new ConfigError('toyMemory', `no RAM at 0x${gpa.toString(16)}`);
    return p.bytes.subarray(gpa - p.gpa, gpa - p.gpa + length);
  }
}

/** A toy CPU: 'run' adds to the pc. Built active (owning a context and memory) or switched out. */
class ToyCpu implements SwitchableCpu<ToyContext> {
  private slot = new HandOverSlot<ToyContext>();
  switchState: SwitchState;
  memory: SwitchMemory | undefined;
  context: ToyContext | undefined;
  constructor(
    readonly name: string,
    readonly arch = 'toy',
    owns?: { context: ToyContext; memory: ToyMemory },
    /** A model with memory of its own copies a thread's memory in; one without borrows it. */
    private readonly ownMemory?: ToyMemory,
  ) {
    this.switchState = owns ? 'active' : 'switched-out';
    this.context = owns?.context;
    this.memory = owns?.memory ?? ownMemory;
  }
  async drain(): Promise<void> {}
  async switchOut(): Promise<void> {
    if (this.switchState !== 'active') throw new LifecycleError(this.name, this.switchState, 'switch out');
    this.slot.keep(this.context!, this.memory!);
    this.context = undefined;
    this.switchState = 'switched-out';
  }
  handOver(taker: { readonly name: string }) {
    return this.slot.give(this, taker);
  }
  /** Set to make the next takeover fail after the claim, as a kernel refusing a context would. */
  refuseNext = false;
  async takeOverFrom(source: SwitchableCpu<ToyContext>): Promise<void> {
    const handed = claimHandOver(this, source, this.switchState === 'switched-out', this.ownMemory);
    if (this.refuseNext) {
      this.refuseNext = false;
      handed.undo();
      throw new ConfigError('toy', 'refused');
    }
    if (this.ownMemory) copyGuestMemory(handed.memory, this.ownMemory);
    else this.memory = handed.memory;
    this.context = handed.context;
    this.switchState = 'active';
  }
  run(steps: number): void {
    if (this.switchState !== 'active') throw new LifecycleError(this.name, this.switchState, 'run');
    this.context!.pc += steps;
  }
}

function booted(name = 'fast'): { cpu: ToyCpu; memory: ToyMemory } {
  const memory = new ToyMemory([0, 0x2000], [0x10000, 0x1000]);
  memory.bytes(0x10, 3).set([1, 2, 3]);
  memory.bytes(0x10ff0, 2).set([0xaa, 0xbb]);
  return { cpu: new ToyCpu(name, 'toy', { context: new ToyContext('toy', 100), memory }), memory };
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('CPU switching: the contract', () => {
  it('drain → switchOut → takeOverFrom moves the context once; the taker runs it, the giver refuses to', async () => {
    const { cpu: fast, memory } = booted();
    const slow = new ToyCpu('slow');
    fast.run(5);
    await fast.drain();
    await fast.switchOut();
    expect(() => fast.run(1)).toThrow(new LifecycleError('fast', 'switched-out', 'run'));
    await slow.takeOverFrom(fast);
    expect(slow.switchState).toBe('active');
    expect(slow.context!.pc).toBe(105);
    expect(slow.memory).toBe(memory); // borrowed: one memory, no copy
    slow.run(2);
    await slow.switchOut();
    await fast.takeOverFrom(slow); // and back
    fast.run(1);
    expect(fast.context!.pc).toBe(108);
  });

  it('a model with memory of its own gets the thread memory copied in, range by range', async () => {
    const { cpu: fast } = booted();
    const mirror = new ToyMemory([0, 0x2000], [0x10000, 0x1000]);
    const other = new ToyCpu('other-vm', 'toy', undefined, mirror);
    await fast.switchOut();
    await other.takeOverFrom(fast);
    expect([...mirror.bytes(0x10, 3)]).toEqual([1, 2, 3]);
    expect([...mirror.bytes(0x10ff0, 2)]).toEqual([0xaa, 0xbb]);
    expect(other.memory).toBe(mirror);
  });

  it('copyGuestMemory: the bytes copied; nothing for one memory; a range the target lacks is a ConfigError naming it', () => {
    const { memory } = booted();
    expect(copyGuestMemory(memory, new ToyMemory([0, 0x2000], [0x10000, 0x1000]))).toBe(0x3000);
    expect(copyGuestMemory(memory, memory)).toBe(0);
    expect(() => copyGuestMemory(memory, new ToyMemory([0, 0x2000]))).toThrow(new ConfigError('takeOverFrom', "the taking CPU's memory has no RAM for 0x10000..0x10fff (4096 bytes) of the thread's memory: build its machine with the same memory layout"));
  });

  it('a taker whose own memory lacks a range of the thread\'s is refused before anything moves', async () => {
    const { cpu: fast } = booted();
    const small = new ToyCpu('small-vm', 'toy', undefined, new ToyMemory([0, 0x2000]));
    await fast.switchOut();
    expect(await errorOf(small.takeOverFrom(fast))).toEqual(new ConfigError('takeOverFrom', "the taking CPU's memory has no RAM for 0x10000..0x10fff (4096 bytes) of the thread's memory: build its machine with the same memory layout"));
    expect(small.switchState).toBe('switched-out');
    const slow = new ToyCpu('slow');
    await slow.takeOverFrom(fast);
    expect(slow.context!.pc).toBe(100);
  });

  it('a taker that fails after claiming the thread undoes the hand-over: the giver can hand it to another', async () => {
    const { cpu: fast } = booted();
    const flaky = new ToyCpu('flaky');
    flaky.refuseNext = true;
    await fast.switchOut();
    expect(await errorOf(flaky.takeOverFrom(fast))).toEqual(new ConfigError('toy', 'refused'));
    await flaky.takeOverFrom(fast);
    expect(flaky.context!.pc).toBe(100);
  });

  it('taking over from a CPU that is not switched out is a LifecycleError, and leaves it running', async () => {
    const { cpu: fast } = booted();
    const slow = new ToyCpu('slow');
    expect(await errorOf(slow.takeOverFrom(fast))).toEqual(new LifecycleError('fast', 'active', 'hand its thread to slow (switch it out first)'));
    fast.run(1);
    expect(slow.switchState).toBe('switched-out');
  });

  it('taking the same thread twice: the second taker is told who has it', async () => {
    const { cpu: fast } = booted();
    const a = new ToyCpu('a');
    const b = new ToyCpu('b');
    await fast.switchOut();
    await a.takeOverFrom(fast);
    expect(await errorOf(b.takeOverFrom(fast))).toEqual(new LifecycleError('fast', 'switched-out (its thread was handed to a already)', 'hand its thread to b'));
    expect(await errorOf(a.takeOverFrom(new ToyCpu('never-ran')))).toEqual(new LifecycleError('a', 'active (it owns a thread: switch it out first)', 'take over from never-ran'));
    expect(await errorOf(b.takeOverFrom(new ToyCpu('never-ran')))).toEqual(new LifecycleError('never-ran', 'switched-out (it never owned a thread)', 'hand its thread to b'));
  });

  it('another arch is a ConfigError; the thread stays with the giver for a CPU of its arch', async () => {
    const { cpu: fast } = booted();
    const arm = new ToyCpu('arm-model', 'arm64');
    await fast.switchOut();
    expect(await errorOf(arm.takeOverFrom(fast))).toEqual(new ConfigError('takeOverFrom', 'arm-model (arm64) cannot take over the thread of fast (toy): a thread moves only between CPUs of one arch'));
    const slow = new ToyCpu('slow');
    await slow.takeOverFrom(fast);
    expect(slow.context!.pc).toBe(100);
  });

  it('a context of another arch in the hand-over is refused too', async () => {
    const memory = new ToyMemory([0, 0x1000]);
    const liar = new ToyCpu('liar', 'toy', { context: new ToyContext('x86_64', 0), memory });
    await liar.switchOut();
    expect(await errorOf(new ToyCpu('slow').takeOverFrom(liar))).toEqual(new ConfigError('takeOverFrom', 'liar handed over a context of arch x86_64 to slow (toy)'));
  });

  it('closed CPUs and taking over from itself are LifecycleErrors', async () => {
    const { cpu: fast } = booted();
    await fast.switchOut();
    const closed = new ToyCpu('closed');
    closed.switchState = 'closed';
    expect(await errorOf(closed.takeOverFrom(fast))).toEqual(new LifecycleError('closed', 'closed', 'take over from fast'));
    expect(await errorOf(new ToyCpu('slow').takeOverFrom(closed))).toEqual(new LifecycleError('closed', 'closed', 'hand its thread to slow'));
    expect(await errorOf(fast.takeOverFrom(fast))).toEqual(new LifecycleError('fast', 'switched-out', 'take over from itself'));
    // None of these took the thread.
    const slow = new ToyCpu('slow');
    await slow.takeOverFrom(fast);
    expect(slow.context!.pc).toBe(100);
  });

  it('a LifecycleError from a vCPU thread (a switched-out CPU asked to run) arrives as a LifecycleError', () => {
    const back = deserializeError(structuredClone(serializeError(new LifecycleError('vCPU 0', 'switched-out', 'run'))), 0) as LifecycleError;
    expect(back).toBeInstanceOf(LifecycleError);
    expect([back.object, back.phase, back.operation, back.message]).toEqual(['vCPU 0', 'switched-out', 'run', 'vCPU 0: cannot run while switched-out']);
  });
});
