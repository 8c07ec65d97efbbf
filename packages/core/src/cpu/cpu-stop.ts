import type { DebugStop } from './guest-debug';
import { KvmSystemEvent } from '../abi/kvm-run';

/**
 * Why a vCPU's run loop returned: one value per run, produced by the exit handler (or the
 * device) that asked for it, by a kick from another thread, or by the exit limit.
 */
export type CpuStop =
  /** kicked / asked to stop from another thread */
  | { readonly reason: 'stopped' }
  /** HLT with no in-kernel interrupt controller to wake the vCPU */
  | { readonly reason: 'halted' }
  /** the run's exit limit was reached */
  | { readonly reason: 'exit-limit' }
  /** KVM_EXIT_DEBUG (single step, breakpoint, watchpoint) that no plugin handled otherwise */
  | { readonly reason: 'debug' }
  /** KVM_EXIT_DEBUG decoded by the arch's guest debug (cpu/guest-debug.ts): what hit, and where */
  | DebugStop
  /** a device asked the machine to power off */
  | { readonly reason: 'poweroff'; readonly status: number }
  /**
   * KVM_EXIT_SYSTEM_EVENT (PSCI off/reset, …): `event` is KVM_SYSTEM_EVENT_*, `flags` its data.
   * A device's reset request (DeviceContext.requestReset) is the same stop: RESET, flags 0.
   */
  | { readonly reason: 'system-event'; readonly event: number; readonly flags: bigint }
  /**
   * The guest called an m5op the machine carries out on the main thread (m5ops/m5op-table.ts):
   * `op` its name, `func` gem5's function number, `args` the argument registers, `hostTimeNs`
   * process.hrtime when the vCPU thread took the exit. The machine resumes the vCPU afterwards
   * unless the op ends the run.
   */
  | { readonly reason: 'm5op'; readonly op: string; readonly func: number; readonly args: readonly bigint[]; readonly hostTimeNs: bigint }
  /** runInstructions(n) retired exactly `count` (= n) guest instructions; `pc` is the next one (timing/instruction-stops.ts) */
  | { readonly reason: 'instructions'; readonly count: number; readonly pc: bigint }
  /** runFor(ticks) ran out of time: the run took `ticks` simulated ticks, at least the budget (timing/simulated-time.ts) */
  | { readonly reason: 'time'; readonly ticks: bigint };

export type StopReason = CpuStop['reason'];

/** The stops that carry no data, preallocated: handlers return them without allocating per exit. */
export const Stop = Object.freeze({
  stopped: Object.freeze({ reason: 'stopped' }) as CpuStop,
  halted: Object.freeze({ reason: 'halted' }) as CpuStop,
  exitLimit: Object.freeze({ reason: 'exit-limit' }) as CpuStop,
  debug: Object.freeze({ reason: 'debug' }) as CpuStop,
  poweroff: (status: number): CpuStop => Object.freeze({ reason: 'poweroff', status }),
  systemEvent: (event: number, flags: bigint): CpuStop => Object.freeze({ reason: 'system-event', event, flags }),
  /** A guest-requested system reset, from a device (DeviceContext.requestReset). */
  systemReset: Object.freeze({ reason: 'system-event', event: KvmSystemEvent.RESET, flags: 0n }) as CpuStop,
});

/**
 * Two stops met in one run (a handler's and one from completing pending I/O, say): the first
 * wins, except that a power-off is never hidden behind another reason — the guest did power off.
 */
export function combineStops(first: CpuStop | undefined, second: CpuStop | undefined): CpuStop | undefined {
  if (first === undefined) return second;
  if (second !== undefined && second.reason === 'poweroff' && first.reason !== 'poweroff') return second;
  return first;
}
