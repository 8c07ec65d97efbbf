import type { DeviceSpec } from './device-plugin';
import type { VcpuBuildInfo } from './prepare-vm';
import type { UnclaimedPolicy } from '../bus/address-bus';
import type { StopReason } from '../cpu/base-kvm-cpu';

/** Everything a vCPU worker needs, as structured-cloneable data. */
export interface VcpuWorkerData extends VcpuBuildInfo {
  readonly modules: readonly string[];
  readonly arch: string;
  readonly devices: readonly { spec: DeviceSpec; name: string; shared: SharedArrayBuffer }[];
  readonly stats: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly unclaimed: UnclaimedPolicy;
}

/** Main → worker. */
export type ToWorker =
  | { readonly op: 'run'; readonly maxExits?: number }
  | { readonly op: 'call'; readonly id: number; readonly method: WorkerMethod; readonly args: readonly unknown[] }
  | { readonly op: 'exit' };

/** Read-mostly operations a stopped vCPU answers. */
export type WorkerMethod = 'dump' | 'threadContext' | 'exitCounts' | 'setThreadContext' | 'kernelStats';

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

/** Worker → main. */
export type FromWorker =
  | { readonly ev: 'ready'; readonly thread: bigint }
  | { readonly ev: 'console'; readonly bytes: Uint8Array }
  | { readonly ev: 'poweroff'; readonly status: number }
  | { readonly ev: 'stopped'; readonly reason: StopReason; readonly status?: number }
  | { readonly ev: 'error'; readonly error: SerializedError }
  | { readonly ev: 'result'; readonly id: number; readonly value?: unknown; readonly error?: SerializedError };
