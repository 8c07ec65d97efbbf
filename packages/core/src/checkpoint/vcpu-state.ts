/**
 * What a checkpoint saves and restores on a vCPU's own thread, in one message round trip per
 * vCPU each way (the worker's 'saveVcpuState' / 'restoreVcpuState'): its ThreadContext, its
 * device instances' local state and its simulated ticks. The machine's sections are built from
 * these (save-machine.ts, machine-state.ts) and fed back from them (restore-machine.ts).
 *
 * Software breakpoints are the one per-thread state that is refused instead of saved: the debug
 * layer keeps them as int3 bytes written into guest memory (the original bytes in the debugger),
 * so a checkpoint would store the int3s as the guest's code — a restored guest would trap where no
 * debugger is. Checkpointing a machine with any set fails `not-saveable`, naming the vCPU and the
 * addresses.
 */
import type { KvmCPU } from '../cpu/kvm-cpu';
import type { ArchPlugin } from '../machine/arch-plugin';
import { isGuestDebugCapable } from '../cpu/guest-debug';
import { isTimedCpu } from '../timing/timed-cpu';
import { CheckpointError } from '../errors/errors';
import { restoreLocalDeviceStates, saveLocalDeviceStates, type NamedDevice } from './device-states';

export interface SavedVcpuState {
  /** The ThreadContext's plain-data form (toJSON()). */
  readonly threadContext: unknown;
  /** Local state of this thread's device instances, by device name. */
  readonly deviceStates: Record<string, unknown>;
  /** Simulated ticks so far (0 for a CPU without simulated time). */
  readonly simTicks: bigint;
}

/** The software breakpoints a vCPU's debug layer holds, without attaching one. */
export function softwareBreakpointsOf(cpu: KvmCPU): bigint[] {
  if (!isGuestDebugCapable(cpu) || cpu.guestDebugAttached !== true) return [];
  return cpu.guestDebug().swBreakpoints();
}

/** Worker side of a save: refuses software breakpoints (see the header), then reads everything. */
export function saveVcpuState(cpu: KvmCPU, devices: readonly NamedDevice[]): SavedVcpuState {
  const breakpoints = softwareBreakpointsOf(cpu);
  if (breakpoints.length > 0) {
    const at = breakpoints.map((a) => `0x${a.toString(16)}`).join(', ');
    throw new CheckpointError(`vCPU ${cpu.id} software breakpoints`, `cannot be saved: the int3 bytes at ${at} are in guest memory (their original bytes only in the debugger): remove them first (guestDebug().clear() or detachGuestDebug())`, { code: 'not-saveable' });
  }
  return {
    threadContext: cpu.getThreadContext().toJSON(),
    deviceStates: saveLocalDeviceStates(devices),
    simTicks: isTimedCpu(cpu) ? cpu.timing.ticks : 0n,
  };
}

/** Worker side of a restore: the context, then the devices' local state, then the clock. */
export function restoreVcpuState(cpu: KvmCPU, arch: ArchPlugin, devices: readonly NamedDevice[], state: SavedVcpuState): void {
  cpu.takeOverFrom(arch.threadContextFromData(state.threadContext));
  restoreLocalDeviceStates(devices, state.deviceStates);
  if (isTimedCpu(cpu)) cpu.timing.restoreTicks(state.simTicks);
}
