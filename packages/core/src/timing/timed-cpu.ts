/**
 * The cross-arch contract for simulated time and instruction stops on a vCPU. BaseKvmCPU
 * implements it for every arch; runInstructions needs the arch's guest debug (single-step).
 */
import type { CpuStop } from '../cpu/cpu-stop';
import type { InstructionRun } from './instruction-stops';
import type { SimulatedTime } from './simulated-time';

export interface TimedKvmCPU {
  /** This vCPU's simulated time (its tick counter and config). */
  readonly timing: SimulatedTime;
  /** Run for a tick budget; `{ reason: 'time' }` when it ran out. */
  runFor(ticks: bigint): CpuStop;
  /** Run exactly n guest instructions; `{ reason: 'instructions' }` when they retired. */
  runInstructions(n: number): InstructionRun;
}

export function isTimedCpu(cpu: object): cpu is TimedKvmCPU {
  const c = cpu as Partial<TimedKvmCPU>;
  return typeof c.runFor === 'function' && typeof c.runInstructions === 'function' && 'timing' in cpu;
}
