import { inject, injectable } from 'tsyringe';
import {
  BaseKvmCPU,
  ConfigError,
  GuestMemory,
  KvmCap,
  KvmExitReason,
  KvmIoctl,
  KvmRunLayout as R,
  Stop,
  UNCLAIMED,
  VCPU_SETUP,
  kvmIoctl,
  toKvmError,
  type AccessSize,
  type AddressBus,
  type CpuStop,
  type GuestDebugCapable,
  type MemoryRegion,
  type VcpuSetup,
} from '@kvmts/core';
import { X86_GPR_NAMES, type X86GprName } from './abi/registers';
import { X86_REG_WORD, type X86Regs } from './abi/regs-codec';
import type { X86Sregs2 } from './abi/sregs-codec';
import type { X86ThreadContext } from './state/thread-context';
import type { X86InitialState } from './state/initial-state';
import type { X86StateGroup } from './state/groups';
import { X86StateSync, queryStateCaps, type VcpuIoctlBatchPort } from './state/state-sync';
import { X86_DEFAULT_SYNC_REGS, type X86SyncRegsGroup } from './state/sync-regs';
import { ioctlBatchError, runIoctlBatch, type IoctlBatch } from '@kvmts/native';
import { applySetupSequence, mergeSregs } from './state/setup-sequence';
import { formatX86Dump } from './dump/dump';
import { X86_PORT_IO_SPACE } from './address-spaces';
import { X86GuestDebugger, type X86DebugTarget } from './debug/guest-debugger';
import { UserspaceInterruptInjector } from './interrupts/userspace-injection';

/** KVM_EXIT_IO direction byte. */
const IO_OUT = 1;

// Offsets and markers read once at load: the compiled re-exports of @kvmts/core are getters,
// and reading them per exit costs more than the rest of the PIO handler (measured by the bench).
const IO_DIRECTION = R.io_direction;
const IO_SIZE = R.io_size;
const IO_PORT = R.io_port;
const IO_COUNT = R.io_count;
const IO_DATA_OFFSET = R.io_data_offset;
const NO_DEVICE = UNCLAIMED;

/**
 * The x86-64 KVM CPU: its state travels between KVM and an X86ThreadContext group by group,
 * lazily (state/state-sync.ts: a group is pulled when first read after a run and pushed only
 * when it changed); port I/O goes through the port-I/O bus (string I/O included); HLT stops the
 * run; SHUTDOWN (triple fault) is a GuestError with a register dump. Resolved from a vCPU's
 * container (KVM_CPU); to change it, register a subclass there (docs/architecture.md shows how).
 */
@injectable()
export class X86KvmCPU extends BaseKvmCPU<X86InitialState, X86ThreadContext> implements GuestDebugCapable {
  readonly arch = 'x86_64';
  /** The port-I/O bus (address space 'pio'). */
  readonly pio: AddressBus;
  /** irqchip 'userspace' only: the injector serving this vCPU. */
  userspaceInterrupts: UserspaceInterruptInjector | undefined;
  /** Which state groups are current with KVM and which changed; their ioctls. */
  protected readonly sync: X86StateSync;
  /** Full pulls and pushes in one native call each (archOptions.batchStateSync). */
  private readonly batchPort: VcpuIoctlBatchPort;
  /** Guest debugging (debug/guest-debugger.ts), once attached by guestDebug(). */
  private debugger: X86GuestDebugger | undefined;
  private readonly vmFd: number;
  private readonly memoryRegions: readonly MemoryRegion[] | undefined;

  constructor(@inject(VCPU_SETUP) setup: VcpuSetup) {
    super(setup);
    this.pio = setup.buses.require(X86_PORT_IO_SPACE.name, `vCPU ${this.id}`);
    this.coalescedPioBus = this.pio;
    this.setExitHandler(KvmExitReason.IO, (cpu) => (cpu as X86KvmCPU).handleIo());
    this.setExitHandler(KvmExitReason.HLT, () => Stop.halted);
    // The dump attached here is what KVM holds after the exit: the faulting context on PVM and
    // VMX, but reset state on SVM, whose VMCB is undefined after a shutdown intercept.
    this.setExitHandler(KvmExitReason.SHUTDOWN, (cpu) => {
      throw cpu.guestError('triple-fault', 'the guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception occurred that the guest could not deliver');
    });
    const vmFd = setup.options?.vmFd;
    if (vmFd === undefined) throw new ConfigError('vcpuSetup.options.vmFd', `vCPU ${this.id}: X86KvmCPU needs the VM fd to ask KVM which state ioctls it has (buildVcpu passes it)`);
    this.vmFd = vmFd;
    this.memoryRegions = setup.options?.memoryRegions;
    const caps = queryStateCaps((cap) => kvmIoctl(vmFd, KvmIoctl.CHECK_EXTENSION, `KVM_CHECK_EXTENSION(${KvmCap[cap]})`, cap));
    const fd = this.fd;
    // With KVM_CAP_SYNC_REGS the registers travel in kvm_run; a full sync may be one batch each
    // way (archOptions.batchStateSync, applyInitialState).
    this.batchPort = { run: (b: IoctlBatch) => runIoctlBatch(fd, b), error: (b: IoctlBatch, i: number, op: string) => toKvmError(op, ioctlBatchError(fd, b, i)) };
    this.sync = new X86StateSync((request, op, arg) => kvmIoctl(fd, request, op, arg), caps, `vCPU ${this.id}`, { run: this.run });
    this.sync.useSyncRegs(X86_DEFAULT_SYNC_REGS);
  }

  protected get threadContext(): X86ThreadContext {
    return this.sync.tc;
  }

  /** KVM ran: groups are pulled again when read, one ioctl each. */
  protected override invalidateThreadContext(): void {
    this.sync.invalidate();
  }

  protected updateThreadContext(): void {
    this.sync.pullAll();
  }

  protected updateKvmState(): void {
    this.sync.pushDirty();
  }

  protected loadThreadContext(tc: X86ThreadContext): void {
    this.sync.load(tc);
  }

  /** Every group is pushed before the next run (those read so far, and any read from now on). */
  override markThreadContextDirty(): void {
    super.markThreadContextDirty();
    this.sync.markAllDirty();
  }

  /** `groups` are about to be modified: pulled now if stale, pushed before the next run. */
  markDirty(...groups: X86StateGroup[]): void {
    this.getThreadContext();
    for (const g of groups) this.sync.markDirty(g);
    this.threadContextDirty = true;
  }

  /** The set-up sequence of state/setup-sequence.ts: CPUID, MSRs, MP state, registers, FPU, special registers, LAPIC. */
  applyInitialState(state: X86InitialState = {}): void {
    if (state.syncRegs !== undefined) this.sync.useSyncRegs(state.syncRegs);
    this.sync.useBatch(state.batchStateSync ? this.batchPort : undefined);
    applySetupSequence(this.sync, state);
    // irqchip 'userspace': this thread injects what the shared controller holds for this vCPU.
    if (state.userspaceIrq !== undefined) this.userspaceInterrupts = new UserspaceInterruptInjector(this, state.userspaceIrq);
  }

  /** Convenience: the general registers (one KVM_GET_REGS if they are stale). */
  getRegs(): X86Regs {
    return this.getThreadContext().regs;
  }

  /**
   * One general register, the cheap way for an exit handler: after an exit it is one load from
   * kvm_run (KVM_CAP_SYNC_REGS), without the 18 BigInts getRegs() decodes; else one
   * KVM_GET_REGS if stale. The same value as getRegs()[name].
   */
  readRegister(name: X86GprName): bigint {
    // A name from untyped JavaScript would otherwise read kvm_run's first bytes (NaN offset → 0).
    if (!Object.prototype.hasOwnProperty.call(X86_REG_WORD, name)) {
      throw new ConfigError('readRegister', `'${String(name)}' is not a general register (one of ${X86_GPR_NAMES.join(', ')})`);
    }
    this.getThreadContext();
    return this.sync.readRegister(name);
  }

  /** The guest's RIP (readRegister('rip')). */
  readRip(): bigint {
    this.getThreadContext();
    return this.sync.readRegister('rip');
  }

  /** Change some general registers; pushed before the next run. */
  setRegs(regs: Partial<Record<X86GprName, bigint>>): void {
    this.markDirty('regs');
    Object.assign(this.getThreadContext().regs, regs);
  }

  getSregs(): X86Sregs2 {
    return this.getThreadContext().sregs;
  }

  /** Change special registers (segments and tables field by field); pushed before the next run. */
  setSregs(sregs: Partial<Record<keyof X86Sregs2, unknown>>): void {
    this.markDirty('sregs');
    mergeSregs(this.getThreadContext().sregs, sregs);
  }

  /**
   * This vCPU's guest debug: single-step, breakpoints, watchpoints, translation
   * (debug/guest-debugger.ts). Attached on first call; from then on a guest int3 stops the vCPU.
   */
  /** Whether guestDebug() is attached (runInstructions detaches what it attached itself). */
  get guestDebugAttached(): boolean {
    return this.debugger !== undefined;
  }

  guestDebug(): X86GuestDebugger {
    if (this.debugger === undefined) {
      if (this.memoryRegions === undefined) {
        throw new ConfigError('vcpuSetup.options.memoryRegions', `vCPU ${this.id}: guest debug needs the VM's memory regions (buildVcpu passes them)`);
      }
      const supported = kvmIoctl(this.vmFd, KvmIoctl.CHECK_EXTENSION, 'KVM_CHECK_EXTENSION(KVM_CAP_SET_GUEST_DEBUG2)', KvmCap.SET_GUEST_DEBUG2);
      const target: X86DebugTarget = {
        run: this.run,
        getRegs: () => this.getRegs(),
        setRegs: (regs) => this.setRegs(regs),
        getSregs: () => this.getSregs(),
        // KVM arms single-step and translates with what it holds: nothing may wait in kvm_run.
        syncToKvm: () => {
          this.syncToKvm();
          this.sync.commitStaged();
        },
        runLoop: (maxExits) => this.runLoop(maxExits),
        vcpuIoctl: (request, op, arg) => {
          this.sync.commitStaged();
          return kvmIoctl(this.fd, request, op, arg);
        },
      };
      this.debugger = new X86GuestDebugger(target, new GuestMemory(this.memoryRegions), supported);
    }
    return this.debugger;
  }

  detachGuestDebug(): void {
    this.debugger?.detach();
    this.debugger = undefined;
  }

  /**
   * With guest debug attached, a run steps over a breakpoint it resumes at. While it runs, state
   * pushed before a KVM_RUN may be staged in kvm_run (KVM_CAP_SYNC_REGS) instead of an ioctl;
   * what KVM has not taken by the end (a vCPU waiting for SIPI does not) is pushed by ioctl, so
   * between runs KVM holds every pushed group, as syncToKvm() promises.
   */
  override runLoop(maxExits?: number): CpuStop {
    const d = this.debugger;
    this.sync.staging = true;
    let stop: CpuStop;
    try {
      stop = d === undefined ? super.runLoop(maxExits) : d.run(maxExits, (m) => super.runLoop(m));
    } finally {
      this.sync.staging = false;
    }
    this.sync.commitStaged();
    return stop;
  }

  /** The state groups carried in kvm_run (KVM_CAP_SYNC_REGS; archOptions.syncRegs), [] without the cap. */
  get syncRegsGroups(): readonly X86SyncRegsGroup[] {
    return this.sync.syncRegsGroups;
  }

  protected override handleDebugExit(): CpuStop | undefined {
    return this.debugger === undefined ? Stop.debug : this.debugger.decodeExit();
  }

  /**
   * KVM_EXIT_IO: `count` elements of `size` bytes at kvm_run + data_offset, all for the same
   * port (count > 1 is rep ins/outs). Reads fill the buffer; KVM copies it into the guest on
   * the next KVM_RUN.
   */
  private handleIo(): CpuStop | undefined {
    const v = this.run;
    const out = v.getUint8(IO_DIRECTION) === IO_OUT;
    const size = v.getUint8(IO_SIZE) as AccessSize;
    const port = v.getUint16(IO_PORT, true);
    const count = v.getUint32(IO_COUNT, true);
    let at = v.getUint32(IO_DATA_OFFSET, true);
    const bus = this.pio;
    for (let i = 0; i < count; i++, at += size) {
      if (out) {
        const value = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, true) : v.getUint32(at, true);
        if (!bus.write(port, size, value, 0)) this.unclaimed('port write', port, size);
      } else {
        let value = bus.read(port, size);
        if (value === NO_DEVICE) {
          this.unclaimed('port read', port, size);
          value = 0xffffffff;
        }
        if (size === 1) v.setUint8(at, value & 0xff);
        else if (size === 2) v.setUint16(at, value & 0xffff, true);
        else v.setUint32(at, value, true);
      }
    }
    return undefined;
  }

  /** The integer and special registers (dump/sections.ts), for errors and `dump()`. */
  dumpState(): string {
    return formatX86Dump(this.getThreadContext(), ['integer', 'special'], { titles: false });
  }
}
