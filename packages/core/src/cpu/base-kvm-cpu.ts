import * as native from '@kvmts/native';
import {
  CoalescedMmioEntryLayout,
  CoalescedMmioRingLayout,
  KvmExitReason,
  KvmRunLayout as R,
} from '../abi/kvm-run';
import { KvmIoctl } from '../abi/ioctls';
import type { AccessSize } from '../bus/device';
import { UNCLAIMED, type AddressBus, type AddressBuses, type UnclaimedPolicy } from '../bus/address-bus';
import { GuestError, KvmError, LifecycleError, type GuestErrorKind } from '../errors/errors';
import { kvmIoctl, toKvmError } from '../kvm/ioctl';
import { ControlSlot, clearVcpuStop, newControlBlock } from './vcpu-control';
import { EXIT_REASON_SLOTS, STAT_SLOTS, StatSlot, exitCountsFrom, type ExitCounts } from './exit-stats';
import type { ThreadContext } from './thread-context';
import { Stop, combineStops, type CpuStop } from './cpu-stop';
import type { CpuRunState, KvmCPU, VcpuSetup } from './kvm-cpu';
import { SimulatedTime } from '../timing/simulated-time';
import type { InstructionRun } from '../timing/instruction-stops';
import type { SimTimeOptions } from '../timing/sim-time';

/**
 * An exit handler: reads the exit from `cpu.run` (the kvm_run view) and returns a stop, or
 * nothing to keep running. Installed once per CPU; it runs once per exit and must not allocate.
 */
export type ExitHandler = (cpu: BaseKvmCPU) => CpuStop | undefined;

/** Hoisted: the package's re-exports are getters, and these are read once per exit. */
const EINTR = 4;
const EAGAIN = 11;
const TWO_32 = 4294967296;
const IMMEDIATE_EXIT = R.immediate_exit;
const EXIT_REASON = R.exit_reason;
/**
 * Completing one instruction's I/O usually takes a few exits (a 16-byte access is two 8-byte
 * halves), but KVM's emulator keeps a `rep movs`/`rep ins` going inside one completion until
 * RCX crosses a multiple of 1024, one exit per element. Past this many it is a loop to report,
 * not to spin on.
 */
const MAX_COMPLETION_EXITS = 4096;

/**
 * The architecture-neutral KVM CPU: vCPU fd, a zero-copy view of kvm_run, the run loop, exit
 * dispatch through a handler table that plugins extend, the state-sync contract, kick and drain.
 * Arch plugins subclass it and implement the template methods (updateKvmState,
 * updateThreadContext, optionally invalidateThreadContext, loadThreadContext, dumpState,
 * applyInitialState) and add exit handlers (x86: IO, HLT, SHUTDOWN). The run-loop states are
 * described at CpuRunState.
 */
export abstract class BaseKvmCPU<InitialState = unknown, TC extends ThreadContext = ThreadContext> implements KvmCPU<InitialState, TC> {
  readonly id: number;
  readonly fd: number;
  /** kvm_run (and the pages after it) as bytes/DataView: decode exits straight from here. */
  readonly runBytes: Uint8Array;
  readonly run: DataView;
  readonly buses: AddressBuses;
  /** Shortcut for `buses.mmio`. */
  readonly mmio: AddressBus;
  readonly stats: Float64Array;
  readonly control: Int32Array;
  unclaimedPolicy: UnclaimedPolicy;

  /** The bus that coalesced entries flagged `pio` go to (an arch with port I/O sets it). */
  protected coalescedPioBus: AddressBus | undefined;
  /** KVM_RUN for this vCPU: the native call, or a stand-in in dispatch unit tests. */
  private readonly kvmRun: (vcpuFd: number) => number;
  private runState: CpuRunState = 'idle';
  private readonly exitHandlers: (ExitHandler | undefined)[] = new Array(EXIT_REASON_SLOTS).fill(undefined);
  private readonly ringOffset: number;
  private readonly ringMax: number;
  private readonly ring32: Int32Array | undefined;
  /** The last KVM_RUN returned an exit that the next entry completes (it changes state even when it answers EINTR). */
  private exitAwaitsCompletion = false;
  /** A stop a device asked for during the current exit; folded into the handler's answer. */
  private requestedStop: CpuStop | undefined;
  /** Runs before every KVM_RUN entry of a run loop (setEntryHook); undefined costs one check. */
  private entryHook: (() => void) | undefined;

  private readonly timingOptions: SimTimeOptions | undefined;
  private simTime: SimulatedTime | undefined;

  /** KVM holds newer state than the ThreadContext (set after every KVM_RUN). */
  protected kvmStateDirty = true;
  /** The ThreadContext holds newer state than KVM (push before the next KVM_RUN). */
  protected threadContextDirty = false;

  constructor(setup: VcpuSetup) {
    const { handles, options = {} } = setup;
    this.id = handles.id;
    this.fd = handles.fd;
    const ab = setup.runArea ?? native.mappingById(handles.runMappingId).view(0, handles.runSize);
    this.runBytes = new Uint8Array(ab);
    this.run = new DataView(ab);
    // Read after mappingById loaded the addon, not at module load: @kvmts/native replaces its
    // lazy stand-in with the addon's own function then, so this is the direct call per exit.
    this.kvmRun = setup.kvmRun ?? native.run;
    this.buses = setup.buses;
    this.mmio = setup.buses.mmio;
    this.stats = options.stats ?? new Float64Array(STAT_SLOTS);
    this.control = options.control ?? newControlBlock();
    this.unclaimedPolicy = options.unclaimed ?? 'ignore';
    this.timingOptions = options.timing;
    const page = options.coalescedRingPage ?? handles.coalescedRingPage;
    const pageSize = page > 0 ? native.pageSize() : 0;
    if (page > 0 && (page + 1) * pageSize <= ab.byteLength) {
      this.ringOffset = page * pageSize;
      this.ringMax = Math.floor((pageSize - CoalescedMmioRingLayout.entries) / CoalescedMmioEntryLayout.sizeof);
      this.ring32 = new Int32Array(ab, this.ringOffset, 2);
    } else {
      this.ringOffset = 0;
      this.ringMax = 0;
      this.ring32 = undefined;
    }
    this.exitHandlers[KvmExitReason.MMIO] = (cpu) => cpu.handleMmio();
    this.exitHandlers[KvmExitReason.INTR] = () => undefined;
    this.exitHandlers[KvmExitReason.DEBUG] = (cpu) => cpu.handleDebugExit();
    this.exitHandlers[KvmExitReason.INTERNAL_ERROR] = (cpu) => cpu.failInternal();
    this.exitHandlers[KvmExitReason.FAIL_ENTRY] = (cpu) => cpu.failEntry();
    this.exitHandlers[KvmExitReason.SYSTEM_EVENT] = (cpu) => cpu.handleSystemEvent();
  }

  abstract readonly arch: string;

  get state(): CpuRunState {
    return this.runState;
  }

  // ---- template methods for arch plugins ---------------------------------------------------

  /**
   * Push the ThreadContext into KVM: the parts that changed, in the order KVM needs (called
   * before KVM_RUN, by syncToKvm and by takeOverFrom when the context is dirty).
   */
  protected abstract updateKvmState(): void;
  /**
   * Pull KVM's state into the ThreadContext: every part the context does not already hold
   * current. An arch that syncs eagerly pulls everything. One that syncs lazily (see
   * invalidateThreadContext) pulls only the parts not pulled since KVM last ran and keeps the
   * others, modified ones included. switchOut calls it so the context it hands over is complete.
   */
  protected abstract updateThreadContext(): void;
  /**
   * KVM has run since the ThreadContext was last synced and the context is about to be read or
   * modified. The default pulls everything now (updateThreadContext). An arch whose state sync
   * costs one ioctl per register group overrides it to only forget what the context holds and
   * pulls each group when it is first read: reading one register after an exit then costs one
   * ioctl, not one per group.
   */
  protected invalidateThreadContext(): void {
    this.updateThreadContext();
  }
  /** The current ThreadContext object (not synced). */
  protected abstract get threadContext(): TC;
  /** Copy `tc` into this CPU's own ThreadContext (arch-specific). */
  protected abstract loadThreadContext(tc: TC): void;
  /** Human-readable register dump for errors and `kvmts dump`. */
  abstract dumpState(): string;
  /** Apply what the arch plugin's prepareBoot produced for this vCPU (called before the first run). */
  abstract applyInitialState(state: InitialState): void;

  /**
   * KVM_EXIT_DEBUG (single step, hardware or software breakpoint). Core stops the run with
   * reason 'debug'; arch plugins override this to decode `debug.arch` and decide.
   */
  protected handleDebugExit(): CpuStop | undefined {
    return Stop.debug;
  }

  // ---- state sync --------------------------------------------------------------------------

  /**
   * The architectural state, current with KVM: pulled now, or — by an arch that syncs lazily —
   * part by part as it is read. Only valid while not running; after a run, get it again.
   */
  getThreadContext(): TC {
    this.requireNotRunning('read the thread context');
    if (this.kvmStateDirty) {
      this.invalidateThreadContext();
      this.kvmStateDirty = false;
    }
    return this.threadContext;
  }

  /** Note that the ThreadContext was modified: it is pushed to KVM before the next run. */
  markThreadContextDirty(): void {
    this.requireNotRunning('modify the thread context');
    if (this.kvmStateDirty) {
      // Sync first so fields the caller did not touch are not overwritten with stale values.
      this.invalidateThreadContext();
      this.kvmStateDirty = false;
    }
    this.threadContextDirty = true;
  }

  /** Push a dirty ThreadContext now (e.g. before inspecting KVM state directly). */
  syncToKvm(): void {
    if (this.threadContextDirty) {
      this.updateKvmState();
      this.threadContextDirty = false;
    }
  }

  // ---- exit handler table --------------------------------------------------------------------

  /** Install (or replace) the handler for one exit reason. Plugins extend the table this way. */
  setExitHandler(reason: number, handler: ExitHandler | undefined): void {
    if (!Number.isInteger(reason) || reason < 0 || reason >= EXIT_REASON_SLOTS) throw new RangeError(`exit reason ${reason} outside 0..${EXIT_REASON_SLOTS - 1}`);
    this.exitHandlers[reason] = handler;
  }

  /**
   * Work to do before every KVM_RUN entry, e.g. injecting an interrupt a userspace interrupt
   * controller holds (x86's irqchip 'userspace'). It runs after the loop's stop check, so it
   * never delays a stop; it must be cheap when there is nothing to do. Takes effect at the next
   * runLoop().
   */
  setEntryHook(hook: (() => void) | undefined): void {
    this.entryHook = hook;
  }

  /** The handler installed for `reason` (so a plugin can wrap or chain it). */
  getExitHandler(reason: number): ExitHandler | undefined {
    return this.exitHandlers[reason];
  }

  // ---- the run loop ------------------------------------------------------------------------

  /**
   * Run the vCPU on the calling thread until something stops it. Synchronous: call it from a
   * worker thread (the machine does) or, in tests, from the main thread. On every return the
   * vCPU's pending I/O has been completed, so its state may be read or written.
   */
  runLoop(maxExits = Infinity): CpuStop {
    if (this.runState === 'failed' || this.runState === 'closed' || this.runState === 'switched-out') {
      throw new LifecycleError(`vCPU ${this.id}`, this.runState, 'run');
    }
    const ctl = this.control;
    const stats = this.stats;
    const kvmRun = this.kvmRun;
    const fd = this.fd;
    const entryHook = this.entryHook;
    this.syncToKvm();
    this.requestedStop = undefined; // a request belongs to the run it was made in
    Atomics.store(ctl, ControlSlot.running, 1);
    this.runState = 'running';
    let exits = 0;
    try {
      for (;;) {
        if (Atomics.load(ctl, ControlSlot.stop) !== 0) {
          const stop = combineStops(Stop.stopped, this.completePendingIo())!;
          Atomics.add(ctl, ControlSlot.ack, 1);
          return this.toIdle(stop);
        }
        if (entryHook !== undefined) entryHook();
        const r = kvmRun(fd);
        this.kvmStateDirty = true;
        if (r >= 0) this.exitAwaitsCompletion = true;
        else if (r === -EINTR) this.exitAwaitsCompletion = false;
        stats[StatSlot.runs]++;
        if (r < 0) {
          if (r === -EINTR || r === -EAGAIN) {
            stats[StatSlot.interrupted]++;
            continue; // the loop top decides whether this was a stop request
          }
          throw this.runFailure(r);
        }
        const stop = this.dispatchExit();
        if (stop !== undefined) return this.toIdle(combineStops(stop, this.completePendingIo())!);
        if (++exits >= maxExits) return this.toIdle(combineStops(Stop.exitLimit, this.completePendingIo())!);
      }
    } catch (e) {
      this.runState = 'failed';
      Atomics.store(ctl, ControlSlot.running, 0);
      throw e;
    }
  }

  /**
   * Decode the exit in kvm_run and run its handler; returns the stop it (or a device) asked for.
   * The run state is 'service' meanwhile and back to what it was after (running, or idle when
   * a drain completes pending I/O).
   */
  private dispatchExit(): CpuStop | undefined {
    const before = this.runState;
    this.runState = 'service';
    if (this.ring32 !== undefined && this.ring32[0] !== this.ring32[1]) this.flushCoalesced();
    const reason = this.run.getUint32(EXIT_REASON, true);
    const handler = reason < EXIT_REASON_SLOTS ? this.exitHandlers[reason] : undefined;
    if (handler === undefined) throw this.unknownExit(reason);
    this.stats[reason]++;
    let stop = handler(this);
    if (this.requestedStop !== undefined) {
      stop = combineStops(stop, this.requestedStop);
      this.requestedStop = undefined;
    }
    this.runState = before;
    return stop;
  }

  private toIdle(stop: CpuStop): CpuStop {
    this.runState = 'idle';
    Atomics.store(this.control, ControlSlot.running, 0);
    return stop;
  }

  /**
   * Stop after the current exit. For devices and handlers on this vCPU's thread (a device's
   * power-off request arrives here); the request is folded into the exit's result, and one
   * made outside a run is dropped when the next run starts.
   */
  requestStop(stop: CpuStop): void {
    this.requestedStop = combineStops(this.requestedStop, stop);
  }

  /**
   * Re-enter KVM_RUN with immediate_exit set until KVM answers EINTR. KVM first completes the
   * pending IN/MMIO read (loading the register, advancing RIP) — needed before any state is
   * read or written after an I/O exit (api.rst). Completing one part of an access can produce
   * a further exit (a 16-byte MMIO access is two 8-byte exits): it is dispatched like any other,
   * so no half of an access is lost when a run stops after every exit.
   */
  private completePendingIo(): CpuStop | undefined {
    const b = this.runBytes;
    const prev = b[IMMEDIATE_EXIT];
    b[IMMEDIATE_EXIT] = 1;
    let stop: CpuStop | undefined;
    try {
      for (let entries = 0; ; entries++) {
        if (entries > MAX_COMPLETION_EXITS) {
          throw this.guestError('internal-error', `completing pending I/O took more than ${MAX_COMPLETION_EXITS} KVM_RUN entries`);
        }
        const r = this.kvmRun(this.fd);
        // After an exit, even an EINTR return changed the state: KVM finished the instruction
        // first (loaded the register, advanced RIP), so what a handler read during the exit is stale.
        if (this.exitAwaitsCompletion) this.kvmStateDirty = true;
        if (r === -EINTR) {
          this.exitAwaitsCompletion = false;
          break;
        }
        if (r >= 0) this.exitAwaitsCompletion = true;
        if (r === -EAGAIN) continue;
        if (r < 0) throw this.runFailure(r, ', completing pending I/O');
        this.kvmStateDirty = true;
        this.stats[StatSlot.completionExits]++;
        stop = combineStops(stop, this.dispatchExit());
      }
      this.stats[StatSlot.halfEntries]++;
    } finally {
      // Leave it set if a controller set it (it is cleared on resume); clear it if we set it.
      if (prev === 0 && Atomics.load(this.control, ControlSlot.stop) === 0) b[IMMEDIATE_EXIT] = 0;
    }
    return stop;
  }

  /**
   * Prepare to run again after a stop: clear the stop request and immediate_exit. Called by the
   * controller (or the machine's worker) before the next runLoop().
   */
  resume(): void {
    clearVcpuStop(this.control, this.runBytes);
  }

  /**
   * Complete pending I/O so the state can be read or written (the vCPU must be idle). Returns a
   * stop that completing it produced (a device powering off on the second half of an access),
   * if any. Every run returns drained already, so this matters before the first run and for
   * CPUs driven by hand.
   */
  drain(): CpuStop | undefined {
    this.requireNotRunning('drain');
    return this.failOnThrow(() => this.completePendingIo());
  }

  /**
   * Hand the thread over to another CPU model; this CPU will not run again. The context is
   * complete when it is returned: modifications are written back, then every part not yet
   * pulled is pulled, so nothing in it depends on this vCPU any more.
   */
  switchOut(): TC {
    this.requireNotRunning('switch out');
    const tc = this.failOnThrow(() => {
      this.completePendingIo();
      const context = this.getThreadContext();
      this.syncToKvm();
      this.updateThreadContext();
      return context;
    });
    this.runState = 'switched-out';
    return tc;
  }

  /** Outside runLoop too, a handler or KVM failing leaves the CPU 'failed', as inside it. */
  private failOnThrow<T>(work: () => T): T {
    try {
      return work();
    } catch (e) {
      this.runState = 'failed';
      throw e;
    }
  }

  /** Take over the thread from another CPU model (any model with the same arch's ThreadContext). */
  takeOverFrom(source: { switchOut(): TC } | TC): void {
    this.requireNotRunning('take over');
    const tc = 'switchOut' in source ? source.switchOut() : source;
    if (tc.arch !== this.arch) throw new LifecycleError(`vCPU ${this.id}`, this.runState, `take over a ${tc.arch} context on a ${this.arch} CPU`);
    this.loadThreadContext(tc);
    this.threadContextDirty = true;
    this.kvmStateDirty = false;
    this.syncToKvm();
    this.runState = 'idle';
  }

  /** Per-exit-kind counts so far (userspace view). */
  exitCounts(): ExitCounts {
    return exitCountsFrom(this.stats);
  }

  /** Kernel statistics from KVM_GET_STATS_FD (exits, halt_exits, insn_emulation, …). */
  openStatsFd(): number {
    return kvmIoctl(this.fd, KvmIoctl.GET_STATS_FD, 'KVM_GET_STATS_FD');
  }

  /** A full text dump: registers plus the run state and exit counts. */
  dump(): string {
    const counts = Object.entries(this.exitCounts()).map(([k, v]) => `${k}=${v}`).join(' ');
    let regs: string;
    try {
      regs = this.dumpState();
    } catch (e) {
      regs = `(state unavailable: ${(e as Error).message})`;
    }
    return `vCPU ${this.id} [${this.arch}] state=${this.runState}\nexits: ${counts || 'none'}\n${regs}`;
  }

  close(): void {
    this.simTime?.close();
    this.runState = 'closed';
  }

  // ---- simulated time and instruction stops (timing/) -----------------------------------------

  /** This vCPU's simulated time (created on first use from the `timing` CPU option). */
  get timing(): SimulatedTime {
    this.simTime ??= new SimulatedTime(this, this.timingOptions);
    return this.simTime;
  }

  /** Run for `ticks` simulated ticks; `{ reason: 'time' }` when the time ran out (timing/simulated-time.ts). */
  runFor(ticks: bigint): CpuStop {
    return this.timing.runFor(ticks);
  }

  /** Run exactly `n` guest instructions (needs the arch's guest debug; timing/instruction-stops.ts). */
  runInstructions(n: number): InstructionRun {
    return this.timing.runInstructions(n);
  }

  // ---- exits handled in core ---------------------------------------------------------------

  /**
   * KVM_RUN failed: a KvmError naming the vCPU — or, in a forked child, the fork guard's
   * EFORKED error, worded as every KVM call there (gem5's fork rule).
   */
  private runFailure(r: number, context = ''): KvmError {
    const e = native.runError(r);
    return toKvmError('KVM_RUN', e, e.code === 'EFORKED' ? undefined : `vCPU ${this.id}${context}`);
  }

  /** Build a GuestError carrying a state dump taken now. */
  guestError(kind: GuestErrorKind, message: string, details: Record<string, number | bigint | string> = {}): GuestError {
    this.kvmStateDirty = true;
    let dump: string;
    try {
      dump = this.dump();
    } catch (e) {
      dump = `(dump failed: ${(e as Error).message})`;
    }
    return new GuestError(kind, this.id, message, dump, details);
  }

  private unknownExit(reason: number): GuestError {
    return this.guestError('unknown-exit', `unhandled KVM exit reason ${reason} (${KvmExitReason[reason] ?? 'unknown to kvmts'})`, { exitReason: reason });
  }

  private handleMmio(): CpuStop | undefined {
    const v = this.run;
    const addr = v.getUint32(R.mmio_phys_addr, true) + v.getUint32(R.mmio_phys_addr + 4, true) * TWO_32;
    const len = v.getUint32(R.mmio_len, true);
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) {
      throw this.guestError('unhandled-io', `MMIO access of ${len} bytes at 0x${addr.toString(16)} (only 1, 2, 4 and 8 are supported)`, { address: addr, length: len });
    }
    if (v.getUint8(R.mmio_is_write) !== 0) {
      const lo = len === 1 ? v.getUint8(R.mmio_data) : len === 2 ? v.getUint16(R.mmio_data, true) : v.getUint32(R.mmio_data, true);
      const hi = len === 8 ? v.getUint32(R.mmio_data + 4, true) : 0;
      if (!this.mmio.write(addr, len as AccessSize, lo, hi)) this.unclaimed('MMIO write', addr, len);
    } else {
      const lo = this.mmio.read(addr, len as AccessSize);
      if (lo === UNCLAIMED) {
        this.unclaimed('MMIO read', addr, len);
        v.setUint32(R.mmio_data, 0xffffffff, true);
        v.setUint32(R.mmio_data + 4, 0xffffffff, true);
      } else {
        v.setUint32(R.mmio_data, lo, true);
        v.setUint32(R.mmio_data + 4, this.mmio.high.high, true);
      }
    }
    return undefined;
  }

  /** Apply the unclaimed-access policy (shared by MMIO here and PIO in arch-x86). */
  unclaimed(what: string, address: number, size: number): void {
    this.stats[StatSlot.unclaimed]++;
    if (this.unclaimedPolicy === 'error') {
      throw this.guestError('unhandled-io', `${what} of ${size} bytes at 0x${address.toString(16)}: no device there`, { address, size });
    }
  }

  /**
   * Drain the coalesced MMIO/PIO ring. Every vCPU maps the same ring page, so consumers on
   * different threads claim entries with a compare-and-swap on `first`.
   */
  private flushCoalesced(): void {
    const ring = this.ring32!;
    const v = this.run;
    const base = this.ringOffset + CoalescedMmioRingLayout.entries;
    for (;;) {
      const first = Atomics.load(ring, 0);
      if (first === Atomics.load(ring, 1)) return;
      const e = base + first * CoalescedMmioEntryLayout.sizeof;
      const addr = v.getUint32(e, true) + v.getUint32(e + 4, true) * TWO_32;
      const len = v.getUint32(e + CoalescedMmioEntryLayout.len, true);
      const pio = v.getUint32(e + CoalescedMmioEntryLayout.pio, true);
      const lo = v.getUint32(e + CoalescedMmioEntryLayout.data, true);
      const hi = v.getUint32(e + CoalescedMmioEntryLayout.data + 4, true);
      const next = (first + 1) % this.ringMax;
      if (Atomics.compareExchange(ring, 0, first, next) !== first) continue;
      this.stats[StatSlot.coalesced]++;
      const size = len as AccessSize;
      const value = len === 1 ? lo & 0xff : len === 2 ? lo & 0xffff : lo;
      const bus = pio !== 0 ? this.coalescedPioBus : this.mmio;
      const ok = bus !== undefined && bus.write(addr, size, value, len === 8 ? hi : 0);
      if (!ok) this.unclaimed(pio !== 0 ? 'coalesced PIO write' : 'coalesced MMIO write', addr, len);
    }
  }

  private failInternal(): never {
    const v = this.run;
    const sub = v.getUint32(R.internal_suberror, true);
    const names = ['', 'emulation failure', 'simultaneous exceptions', 'event delivery failure', 'unexpected exit reason'];
    const ndata = Math.min(v.getUint32(R.internal_ndata, true), 16);
    const data: string[] = [];
    for (let i = 0; i < ndata; i++) data.push('0x' + v.getBigUint64(R.internal_data + 8 * i, true).toString(16));
    throw this.guestError('internal-error', `KVM internal error, suberror ${sub} (${names[sub] ?? 'unknown'})${data.length ? `, data [${data.join(', ')}]` : ''}`, { suberror: sub });
  }

  private failEntry(): never {
    const reason = this.run.getBigUint64(R.fail_entry_hardware_entry_failure_reason, true);
    throw this.guestError('fail-entry', `KVM could not enter the guest (hardware entry failure reason 0x${reason.toString(16)}): the register state is invalid`, { hardwareReason: reason });
  }

  private handleSystemEvent(): CpuStop {
    return Stop.systemEvent(this.run.getUint32(R.system_event_type, true), this.run.getBigUint64(R.system_event_data, true));
  }

  /** State may be read and written unless the vCPU is inside KVM_RUN (handlers run in 'service'). */
  private requireNotRunning(operation: string): void {
    if (this.runState === 'running') throw new LifecycleError(`vCPU ${this.id}`, this.runState, operation);
    if (this.runState === 'closed') throw new LifecycleError(`vCPU ${this.id}`, this.runState, operation);
  }
}
