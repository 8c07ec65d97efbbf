/**
 * A machine's KVM vCPU as a switchable CPU model (cpu/switching.ts): drain, switchOut and
 * takeOverFrom on the main thread, carried out by the vCPU's worker thread (BaseKvmCPU's own
 * drain/switchOut/takeOverFrom) through its controller. Get one with `machine.cpu(index)`.
 */
import { LifecycleError } from '../errors/errors';
import type { ThreadContext } from '../cpu/thread-context';
import type { SwitchingVcpu } from './switch-hand-off';
import type { CpuStop } from '../cpu/cpu-stop';
import { HandOverSlot, claimHandOver, copyGuestMemory, type HandOver, type SwitchMemory, type SwitchState, type SwitchableCpu } from '../cpu/switching';
import type { VcpuController } from './vcpu-controller';

export interface VcpuSwitchParts {
  readonly arch: { readonly arch: string; threadContextFromData(data: unknown): ThreadContext };
  /** The machine's memory as machineSwitchMemory() wraps it (one object per machine). */
  readonly memory: SwitchMemory;
  /** Whether the machine is closed (its vCPU threads gone). */
  readonly closed: () => boolean;
  readonly stopTimeoutMs: number;
  /**
   * The machine's VM-wide state hand-off (cpu/switch-hooks.ts): called before this vCPU switches
   * out, and after it took a thread over (or failed to switch out); the machine decides whether
   * it is the first out or the last back.
   */
  readonly vmState?: { beforeSwitchOut(): Promise<void>; afterTakeOver(from: SwitchingVcpu): Promise<void> };
}

/**
 * The machine's guest memory as it is handed to other CPU models: the same bytes, but every view
 * is taken through a check that the machine is still open — a simulated CPU that borrowed it
 * gets a LifecycleError after close(), never a view of unmapped memory.
 */
export function machineSwitchMemory(memory: SwitchMemory, closed: () => boolean): SwitchMemory {
  return {
    get ranges() {
      return memory.ranges;
    },
    bytes(gpa: number, length: number): Uint8Array {
      if (closed()) throw new LifecycleError('machine memory', 'closed', 'access guest memory');
      return memory.bytes(gpa, length);
    },
  };
}

export class VcpuSwitch<TC extends ThreadContext = ThreadContext> implements SwitchableCpu<TC> {
  readonly name: string;
  readonly arch: string;
  readonly memory: SwitchMemory;
  private state: 'active' | 'switched-out' = 'active';
  /** This CPU took a thread over and has not given it up: a second takeOverFrom would lose it. */
  private tookOver = false;
  private readonly slot = new HandOverSlot<TC>();
  /** The stop that completing pending I/O produced at the last drain (a power-off on an access's second half), if any. */
  lastDrainStop: CpuStop | undefined;
  /**
   * A switchOut or takeOverFrom in flight (they await the vCPU thread): a second one while it
   * lasts is refused, so two calls never both pass the checks on the same state.
   */
  private inFlight: string | undefined;

  constructor(
    private readonly vcpu: VcpuController,
    private readonly parts: VcpuSwitchParts,
  ) {
    this.name = `vCPU ${vcpu.id} (KVM)`;
    this.arch = parts.arch.arch;
    this.memory = parts.memory;
  }

  /** A switch-out is in progress (its hand-off or the thread's answer still awaited). */
  get switchingOut(): boolean {
    return this.inFlight === 'switching out';
  }

  get switchState(): SwitchState {
    return this.parts.closed() ? 'closed' : this.state;
  }

  /** What switchOut kept, until a CPU takes it over (for inspection: the registers handed over). */
  get handedOverContext(): TC | undefined {
    return this.slot.context;
  }

  /**
   * Stop the vCPU at an instruction boundary and keep it stopped for the rest of the machine's
   * current run. The hold comes first, synchronously: a vCPU paused in an m5op's handler (not in
   * KVM_RUN, so there is nothing to kick) would otherwise be resumed by the machine's run when
   * the handler returns — after this drain resolved, or on a thread switched out meanwhile. Its
   * run then ends `stopped`; the next machine.run() resumes it.
   */
  async drain(): Promise<void> {
    this.requireOpen('drain');
    if (this.state === 'switched-out') return; // owns no thread: nothing runs
    this.vcpu.hold();
    // A run in flight is kicked out of KVM_RUN; its loop completes pending I/O before it
    // acknowledges. The drain call completes any left from a run driven some other way.
    await this.vcpu.stop(this.parts.stopTimeoutMs);
    this.lastDrainStop = await this.vcpu.call<CpuStop | undefined>('drain');
  }

  async switchOut(): Promise<void> {
    this.requireOpen('switch out');
    if (this.inFlight !== undefined) throw new LifecycleError(this.name, this.inFlight, 'switch out');
    if (this.state === 'switched-out') throw new LifecycleError(this.name, 'switched-out', 'switch out');
    this.inFlight = 'switching out';
    try {
      await this.drain();
      await this.parts.vmState?.beforeSwitchOut();
      let data: unknown;
      try {
        data = await this.vcpu.call('switchOut');
      } catch (e) {
        await this.parts.vmState?.afterTakeOver(this); // still this vCPU's thread: the VM-wide state goes back
        throw e;
      }
      this.slot.keep(this.parts.arch.threadContextFromData(data) as TC, this.memory);
      this.state = 'switched-out';
      this.tookOver = false;
    } finally {
      this.inFlight = undefined;
    }
  }

  handOver(taker: { readonly name: string }): HandOver<TC> {
    return this.slot.give(this, taker);
  }

  /**
   * Take over `source`'s thread: its memory is copied into this machine's unless it is this
   * machine's, then the context is loaded into KVM. A vCPU may take over while switched out, or
   * while it still holds only the state its machine was built or restored with (that state is
   * replaced).
   */
  async takeOverFrom(source: SwitchableCpu<TC>): Promise<void> {
    // Checked before claiming anything: a second takeover racing this one must not take its source's thread.
    if (this.inFlight !== undefined && !this.parts.closed()) {
      throw new LifecycleError(this.name, this.inFlight, `take over from ${source.name} (one takeover at a time: await the first)`);
    }
    const ownsThread = this.vcpu.isRunning || this.vcpu.loopActive || (this.state === 'active' && (this.tookOver || this.vcpu.lastStop !== undefined));
    const handed = claimHandOver(this, source, !ownsThread, this.memory);
    this.inFlight = `taking over from ${source.name}`;
    try {
      copyGuestMemory(handed.memory, this.memory);
      await this.vcpu.call('setThreadContext', handed.context.toJSON());
    } catch (e) {
      handed.undo(); // the thread stays with its giver (this vCPU's RAM may hold part of its memory)
      throw e;
    } finally {
      this.inFlight = undefined;
    }
    this.state = 'active';
    this.tookOver = true;
    await this.parts.vmState?.afterTakeOver(this);
  }

  private requireOpen(operation: string): void {
    if (this.parts.closed()) throw new LifecycleError(this.name, 'closed', operation);
  }
}
