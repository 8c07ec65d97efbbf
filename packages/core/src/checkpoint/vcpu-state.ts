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
import type { ThreadContext } from '../cpu/thread-context';
import type { ArchPlugin } from '../machine/arch-plugin';
import { isGuestDebugCapable } from '../cpu/guest-debug';
import { isTimedCpu } from '../timing/timed-cpu';
import { CheckpointError } from '../errors/errors';
import { restoreLocalDeviceStates, saveLocalDeviceStates, type NamedDevice } from './device-states';

export interface SavedVcpuState {
  /**
   * The ThreadContext's plain-data form (toJSON()); omitted when the thread holds it decoded
   * under `contextKey` already (a warm restore of the same checkpoint again).
   */
  readonly threadContext?: unknown;
  /**
   * What identifies threadContext's content, when the caller knows it: the vCPU section's SHA-256
   * (the restore checked the file against it) with the section's version. The thread keeps the
   * context it decoded under this key (heldContexts).
   */
  readonly contextKey?: string;
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

/**
 * Contexts this thread decoded (threadContextFromData: every field checked) for the last few
 * checkpoint sections it restored, by contextKey, most recent last. A warm restore of the same
 * checkpoint again sends only the key: no clone of the context between threads, no second decode.
 * Sound because the key is the checksum of the very bytes the context was decoded from, and
 * because takeOverFrom copies the context it is given (loadThreadContext's contract), so a held
 * one is never changed.
 */
const heldContexts = new Map<string, ThreadContext>();
export const HELD_CONTEXTS = 4;

/** What the worker's restoreVcpuState answers: done, or nothing done because the context was only named and is not held. */
export type RestoreVcpuResult = 'restored' | 'context-not-held';

/** Worker side of a restore: the context, then the devices' local state, then the clock. */
export function restoreVcpuState(cpu: KvmCPU, arch: ArchPlugin, devices: readonly NamedDevice[], state: SavedVcpuState): RestoreVcpuResult {
  const key = state.contextKey;
  let tc = key === undefined ? undefined : heldContexts.get(key);
  if (tc === undefined) {
    if (state.threadContext === undefined) return 'context-not-held';
    tc = arch.threadContextFromData(state.threadContext);
  }
  cpu.takeOverFrom(tc);
  if (key !== undefined) {
    heldContexts.delete(key);
    heldContexts.set(key, tc);
    if (heldContexts.size > HELD_CONTEXTS) heldContexts.delete(heldContexts.keys().next().value as string);
  }
  restoreLocalDeviceStates(devices, state.deviceStates);
  if (isTimedCpu(cpu)) cpu.timing.restoreTicks(state.simTicks);
  return 'restored';
}
