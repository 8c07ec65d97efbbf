import type { AddressBuses, UnclaimedPolicy } from '../bus/address-bus';
import type { VcpuHandles } from '../vm/vcpu-fd';
import type { MemoryRegion } from '../vm/memory-region';
import type { ExitCounts } from './exit-stats';
import type { CpuStop } from './cpu-stop';
import type { ThreadContext } from './thread-context';
import type { SimTimeOptions } from '../timing/sim-time';
import type { IrqLines } from '../vm/irq-line';

/** Per-vCPU options the machine (or a test) passes to a CPU. */
export interface CpuOptions {
  /** Simulated time: hostFreq and hostFactor (timing/sim-time.ts). */
  readonly timing?: SimTimeOptions;
  /** What to do with accesses no device claims: 'ignore' (reads return all-ones) or 'error'. */
  readonly unclaimed?: UnclaimedPolicy;
  /** Shared stats array (Float64Array over a SharedArrayBuffer) so other threads can read live counts. */
  readonly stats?: Float64Array;
  /** Shared control block (see vcpu-control.ts); one is created when omitted. */
  readonly control?: Int32Array;
  /** Coalesced-ring page index; 0 disables flushing. Default: the one in the handles. */
  readonly coalescedRingPage?: number;
  /** The VM's fd (arch plugins that issue VM ioctls from the vCPU thread need it). */
  readonly vmFd?: number;
  /** How many vCPUs the machine has. */
  readonly vcpuCount?: number;
  /** The VM's memory regions (descriptors: any thread can map them), for host access to guest memory (guest debug). */
  readonly memoryRegions?: readonly MemoryRegion[];
  /**
   * The interrupt lines of the vCPU's thread, as its devices drive them (through whichever
   * userspace interrupt controller claimed them). For CPUs whose in-kernel devices report their
   * output levels to userspace — arm64's timers with a userspace GIC (KVM_CAP_ARM_USER_IRQ).
   */
  readonly irqLines?: IrqLines;
}

/**
 * Everything a CPU is built from, registered under VCPU_SETUP in a vCPU's container. A CPU's
 * constructor takes exactly this one object (`@inject(VCPU_SETUP)`), so subclasses and
 * overrides stay one line (see docs/architecture.md).
 */
export interface VcpuSetup {
  readonly handles: VcpuHandles;
  readonly buses: AddressBuses;
  readonly options?: CpuOptions;
  /**
   * For unit tests of exit dispatch: a stand-in kvm_run area (default: the vCPU's mapping)
   * and a stand-in for KVM_RUN returning 0 or -errno (default: the native call).
   */
  readonly runArea?: ArrayBuffer;
  readonly kvmRun?: (vcpuFd: number) => number;
}

/**
 * Run-loop states (gem5's, minus the timing-mode ones kvmts does not need yet):
 *
 *   idle ──runLoop()──▶ running ──exit──▶ service ──handler: no stop──▶ running
 *                          ▲                 │
 *                          │                 └─handler/device: stop, or exit limit──▶ complete
 *                          └─ EINTR, no stop requested (stray signal) ─ running       pending I/O
 *   running ──EINTR + stop requested──▶ complete pending I/O ──▶ idle (ACK bumped)   ──▶ idle
 *   any ──GuestError / KvmError──▶ failed (state dump attached to a GuestError)
 *   idle ──switchOut()──▶ switched-out;  idle ──close()──▶ closed
 * "Complete pending I/O" re-enters KVM_RUN with immediate_exit set until it answers EINTR; an
 * exit it reports on the way (the second half of a split MMIO access) is dispatched as usual.
 */
export type CpuRunState = 'idle' | 'running' | 'service' | 'failed' | 'switched-out' | 'closed';

/**
 * The CPU contract: what the machine, the vCPU worker, checkpoints and other CPU models rely
 * on. `BaseKvmCPU` implements it for KVM; arch plugins subclass that. Registered under KVM_CPU.
 */
export interface KvmCPU<InitialState = unknown, TC extends ThreadContext = ThreadContext> {
  readonly id: number;
  readonly arch: string;
  readonly state: CpuRunState;
  readonly buses: AddressBuses;
  /** Apply what the arch plugin's prepareBoot produced for this vCPU (before the first run). */
  applyInitialState(state: InitialState): void;
  /** Run on the calling thread until something stops the vCPU; pending I/O is completed on return. */
  runLoop(maxExits?: number): CpuStop;
  /** From a device or handler on this vCPU's thread: stop after the current exit. */
  requestStop(stop: CpuStop): void;
  /** Clear a stop request before the next run (the controller does this). */
  resume(): void;
  getThreadContext(): TC;
  markThreadContextDirty(): void;
  syncToKvm(): void;
  drain(): CpuStop | undefined;
  switchOut(): TC;
  takeOverFrom(source: { switchOut(): TC } | TC): void;
  exitCounts(): ExitCounts;
  openStatsFd(): number;
  dump(): string;
  close(): void;
}
