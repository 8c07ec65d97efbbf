/**
 * Shared by the CPU-switching suites: what the switch-tests guest computes (a model of its
 * contract in BigInt arithmetic), flat memory for host-tier runs, and a thread holder — a
 * SwitchableCpu that owns a context it was given, so the interpreter has something to take over
 * from without KVM.
 */
import { ConfigError, HandOverSlot, LifecycleError, claimHandOver, type SwitchMemory, type SwitchState, type SwitchableCpu } from '@kvmts/core';
import type { X86ThreadContext } from '@kvmts/arch-x86';

const M64 = (1n << 64n) - 1n;
const K = 0x9e3779b97f4a7c15n;

/** The loop's variables (guests/switch-tests.S): acc = rax, x = rbx, c = r9, s = r10. */
export interface SwitchTestsVars {
  readonly acc: bigint;
  readonly x: bigint;
  readonly c: bigint;
  readonly s: bigint;
}

/** The variables at loop_top before the first iteration. */
export const SWITCH_TESTS_START: SwitchTestsVars = { acc: 0n, x: 1n, c: 0n, s: M64 - 4n };

/** One iteration of the loop of a guest started with `n` iterations ([rdi + 8] = n). */
export function switchTestsIteration(v: SwitchTestsVars, n: number | bigint): SwitchTestsVars {
  const sum = v.x + K;
  const x = sum & M64;
  const t = (x - v.acc) & M64;
  const acc = ((v.acc ^ t) + 0x7fn - BigInt(n)) & M64;
  let s = (t < K ? v.s + 3n : v.s - 1n) & M64;
  if (s < 1n << 63n) s = (s - 0x1234n) & M64;
  return { acc, x, c: sum > M64 ? v.c + 1n : v.c, s };
}

/** The switch-tests guest's variables after `done` of its `n` iterations (the header's "does"). */
export function switchTestsState(n: number, done = n): SwitchTestsVars {
  let v = SWITCH_TESTS_START;
  for (let i = 0; i < done; i++) v = switchTestsIteration(v, n);
  return v;
}

/** What the guest computes from the variables after its last iteration: (acc ^ c) + s. */
export function switchTestsFold(v: SwitchTestsVars): bigint {
  return ((v.acc ^ v.c) + v.s) & M64;
}

/** The switch-tests result for `n` iterations. */
export function switchTestsResult(n: number): bigint {
  return switchTestsFold(switchTestsState(n));
}

/** Guest-physical RAM from 0 as one array. */
export class FlatMemory implements SwitchMemory {
  readonly ram: Uint8Array;
  readonly ranges: { gpa: number; size: number }[];
  constructor(size: number) {
    this.ram = new Uint8Array(size);
    this.ranges = [{ gpa: 0, size }];
  }
  bytes(gpa: number, length: number): Uint8Array {
    if (gpa < 0 || gpa + length > this.ram.length) throw new ConfigError('flatMemory', `0x${gpa.toString(16)}+${length} is outside RAM`);
    return this.ram.subarray(gpa, gpa + length);
  }
  u64(gpa: number): bigint {
    return new DataView(this.ram.buffer, gpa, 8).getBigUint64(0, true);
  }
}

/** A CPU model that only holds a thread (built active with it) and gives it up. */
export class ThreadHolder implements SwitchableCpu<X86ThreadContext> {
  readonly arch = 'x86_64';
  switchState: SwitchState = 'active';
  private readonly slot = new HandOverSlot<X86ThreadContext>();
  constructor(
    readonly name: string,
    public context: X86ThreadContext | undefined,
    public memory: SwitchMemory | undefined,
  ) {
    if (context === undefined) this.switchState = 'switched-out';
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
  async takeOverFrom(source: SwitchableCpu<X86ThreadContext>): Promise<void> {
    const { context, memory } = claimHandOver(this, source, this.switchState === 'switched-out');
    this.context = context;
    this.memory = memory;
    this.switchState = 'active';
  }
}
