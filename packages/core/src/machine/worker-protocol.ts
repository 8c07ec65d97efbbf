import type { VcpuBuildInfo } from './prepare-vm';
import type { MachineDevice } from './devices';
import type { UnclaimedPolicy } from '../bus/address-bus';
import type { CpuStop } from '../cpu/cpu-stop';
import type { SimTimeOptions } from '../timing/sim-time';

/** Everything a vCPU worker needs, as structured-cloneable data. */
export interface VcpuWorkerData extends VcpuBuildInfo {
  /** Plugin modules to load, the arch plugin's first (user modules after it, so theirs win). */
  readonly modules: readonly string[];
  readonly arch: string;
  readonly devices: readonly MachineDevice[];
  readonly stats: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly unclaimed: UnclaimedPolicy;
  readonly timing?: SimTimeOptions;
  /** The machine's console message counter (console-order.ts): this thread numbers its console messages from it. */
  readonly consoleSequence: SharedArrayBuffer;
}

/** Main → worker. */
export type ToWorker =
  /** Build the vCPU (the first message a thread gets for each machine it serves). */
  | { readonly op: 'build'; readonly data: VcpuWorkerData }
  | { readonly op: 'run'; readonly maxExits?: number }
  /** A run ended on time (reason 'time') or after exactly n instructions (reason 'instructions'). */
  | { readonly op: 'runFor'; readonly ticks: bigint }
  | { readonly op: 'runInstructions'; readonly n: number }
  | { readonly op: 'call'; readonly id: number; readonly method: WorkerMethod; readonly args: readonly unknown[] }
  /** Drop the vCPU and its devices; the thread answers 'released' and may serve another machine. */
  | { readonly op: 'exit' };

/** Operations a stopped vCPU answers. */
export type WorkerMethod =
  | 'dump'
  | 'threadContext'
  | 'exitCounts'
  | 'setThreadContext'
  /** CPU switching (machine/vcpu-switch.ts): complete pending I/O (the stop it produced, if any); give the context up. */
  | 'drain'
  | 'switchOut'
  | 'kernelStats'
  /** The vCPU's simulated ticks so far (a bigint). */
  | 'simTicks'
  /** Checkpoints: this thread's device instances' local state, by device name (checkpoint/device-states.ts). */
  | 'saveDeviceStates'
  | 'restoreDeviceStates'
  /** Checkpoints, in one round trip each way: context, device-local state and ticks (checkpoint/vcpu-state.ts). */
  | 'saveVcpuState'
  | 'restoreVcpuState'
  /** This thread's own V8 heap (machine/thread-heap.ts); args[0] `{ gc?: boolean }` collects first. */
  | 'heapStatistics'
  /** The machine's device lines taken by args[0] (machine/machine-irq-lines.ts): this thread's lines go to the main thread ('irq-line'), or back to KVM. */
  | 'forwardIrqLines'
  | 'releaseIrqLines';

/** A GuestError / KvmError flattened for postMessage. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly kind?: string;
  readonly dump?: string;
  readonly details?: Record<string, unknown>;
  readonly op?: string;
  readonly errno?: number;
  readonly code?: string;
  readonly stack?: string;
}

/** Worker → main. A run ends with exactly one 'stopped' or 'error'. */
export type FromWorker =
  | { readonly ev: 'ready'; readonly thread: bigint }
  | { readonly ev: 'released' }
  /** Console bytes, numbered from the machine's counter so the machine's thread can put several threads' output back in order. */
  | { readonly ev: 'console'; readonly bytes: Uint8Array; readonly seq: number }
  /** A device of this thread set a line while the machine's lines are forwarded ('forwardIrqLines'). */
  | { readonly ev: 'irq-line'; readonly line: number; readonly level: boolean }
  /** `executed`: the instructions a runInstructions request retired. */
  | { readonly ev: 'stopped'; readonly stop: CpuStop; readonly executed?: number }
  | { readonly ev: 'error'; readonly error: SerializedError }
  | { readonly ev: 'result'; readonly id: number; readonly value?: unknown; readonly error?: SerializedError };
