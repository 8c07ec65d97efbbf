/**
 * Exact instruction stops: run a vCPU until exactly n guest instructions have retired.
 *
 * gem5 stops on a perf INSTRUCTIONS overflow, which overshoots (signal latency). kvmts is exact:
 * where a PMU counts guest instructions the plan is an overflow a little before n, then
 * single-steps to n; without one (this project's hosts), and for now everywhere, it single-steps
 * all the way through the arch's guest debug (cpu/guest-debug.ts) — exact, at one KVM_RUN entry
 * per instruction.
 *
 * What counts is what the arch's single-step trap counts: one per completed instruction, the
 * architecture's definition. On x86 (measured in the nested-x86 tier, see
 * instruction-stops.kvm.test.ts): port I/O counts once whether KVM completes it in the kernel or
 * exits to a userspace device first; a REP string instruction counts once per iteration (the
 * trap comes after each iteration, SDM vol. 3 §18.3.1.4); interrupts delivered meanwhile run
 * their handler's instructions, which count.
 */
import { ConfigError } from '../errors/errors';
import type { CpuStop } from '../cpu/cpu-stop';
import type { GuestDebug } from '../cpu/guest-debug';
import { pmuNotice } from './pmu';

/** A CPU that can be single-stepped (x86's X86KvmCPU; any arch implementing GuestDebug). */
export interface InstructionStepper {
  guestDebug(): GuestDebug;
  /** Detach what guestDebug() attached (runInstructions leaves the vCPU as it found it). */
  detachGuestDebug?(): void;
  /** Whether guest debug is attached now; absent: assumed attached (left as it is). */
  readonly guestDebugAttached?: boolean;
}

/** The outcome of runInstructions. */
export interface InstructionRun {
  /** `{ reason: 'instructions', count: n }` when exactly n retired; else the stop that came first. */
  readonly stop: CpuStop;
  /** Instructions retired by this call (n, or fewer when another stop came first). */
  readonly executed: number;
}

/** Steps per stepInstructions call: bounds the trace it keeps. */
const CHUNK = 4096;

/**
 * Run until exactly `n` instructions retired. Another stop first (a power-off, a breakpoint,
 * a kick) ends it early with that stop and the count so far; run again with the rest to go on.
 * Exits to userspace on the way (port I/O, MMIO handled by devices) are served as in any run
 * and do not disturb the count.
 */
export function runInstructions(cpu: InstructionStepper, n: number): InstructionRun {
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError('runInstructions.n', `the number of instructions must be a positive integer, got ${String(n)}`);
  pmuNotice();
  // Attached here only for the stepping: detached again after, or every later run would keep
  // paying for it and a guest int3 (Linux patches text with them) would stop the vCPU.
  const attachedBefore = cpu.guestDebugAttached ?? true;
  const debug = cpu.guestDebug();
  try {
    let executed = 0;
    let pc = 0n;
    while (executed < n) {
      const trace = debug.stepInstructions(Math.min(CHUNK, n - executed));
      executed += trace.steps.length;
      if (trace.steps.length > 0) pc = trace.steps[trace.steps.length - 1].pc;
      const stop = trace.stop;
      const stepped = stop.reason === 'debug' && 'kind' in stop && stop.kind === 'step';
      if (!stepped) return { stop, executed };
    }
    return { stop: { reason: 'instructions', count: n, pc }, executed };
  } finally {
    if (!attachedBefore) cpu.detachGuestDebug?.();
  }
}
