import * as native from '@kvmts/native';
import {
  CoalescedMmioEntryLayout,
  CoalescedMmioRingLayout,
  KvmExitReason,
  KvmRunLayout as R,
} from '../abi/kvm-run';
import { KvmIoctl } from '../abi/ioctls';
import type { AccessSize } from '../bus/device';
import { MmioBus, PioBus, UNCLAIMED, type UnclaimedPolicy } from '../bus/address-bus';
import { GuestError, KvmError, LifecycleError, type GuestErrorKind } from '../errors/errors';
import { errnoCode, kvmIoctl } from '../kvm/ioctl';
import type { VcpuHandles } from '../vm/vcpu-fd';
import { ControlSlot, clearVcpuStop, newControlBlock } from './vcpu-control';
import { EXIT_REASON_SLOTS, STAT_SLOTS, StatSlot, exitCountsFrom, type ExitCounts } from './exit-stats';
import type { ThreadContext } from './thread-context';

/** What an exit handler tells the run loop. */
export const ExitAction = { Continue: 0, Stop: 1 } as const;
export type ExitAction = (typeof ExitAction)[keyof typeof ExitAction];

/** Why run() returned. */
export type StopReason =
  | 'stopped' // kicked / asked to stop from another thread
  | 'halted' // HLT with no in-kernel interrupt controller to wake it
  | 'poweroff' // a device asked the machine to power off
  | 'exit-limit' // maxExits reached
  | 'system-event'; // KVM_EXIT_SYSTEM_EVENT shutdown/reset (see lastSystemEvent)

/** An exit handler is a method of the CPU: it reads kvm_run through `cpu.run` and returns an ExitAction. */
export type ExitHandler = (cpu: BaseKvmCPU) => ExitAction;

/**
 * Run-loop states (gem5's, minus the timing-mode ones kvmts does not need yet):
 *
 *   idle ──run()──▶ running ──exit──▶ service ──handler: Continue──▶ running
 *                      ▲                  │
 *                      │                  └─handler: Stop / limit──▶ idle (pending I/O completed)
 *                      └── EINTR with no stop request (spurious signal) ── running
 *   running ──EINTR + stop request──▶ idle (half entry completes pending I/O, ACK bumped)
 *   any ──GuestError──▶ failed (state dump attached to the error)
 *   idle ──switchOut()──▶ switched-out ──takeOverFrom() on another CPU──▶ …
 */
export type CpuRunState = 'idle' | 'running' | 'service' | 'failed' | 'switched-out' | 'closed';

export interface CpuOptions {
  /** What to do with PIO/MMIO no device claims: 'ignore' (reads return all-ones) or 'error'. */
  readonly unclaimed?: UnclaimedPolicy;
  /** Shared stats array (Float64Array over a SharedArrayBuffer) so other threads can read live counts. */
  readonly stats?: Float64Array;
  /** Shared control block (see vcpu-control.ts); one is created when omitted. */
  readonly control?: Int32Array;
  /** Coalesced-ring page index; 0 disables flushing. */
  readonly coalescedRingPage?: number;
}

/** Hoisted: the package's re-exports are getters, and this is called once per exit. */
const runVcpu = native.run;
const EINTR = 4;
const EAGAIN = 11;
const TWO_32 = 4294967296;

/**
 * The architecture-neutral KVM CPU: vCPU fd, a zero-copy view of kvm_run, the run loop, exit
 * dispatch through a handler table that plugins extend, the state-sync contract, kick and drain.
 * Arch plugins subclass it and implement the template methods (updateKvmState,
 * updateThreadContext, dumpState) and add exit handlers (x86: IO, HLT, SHUTDOWN).
 */
export abstract class BaseKvmCPU<TC extends ThreadContext = ThreadContext> {
  readonly id: number;
  readonly fd: number;
  /** kvm_run (and the pages after it) as bytes/DataView: decode exits straight from here. */
  readonly runBytes: Uint8Array;
  readonly run: DataView;
  readonly pio = new PioBus();
  readonly mmio = new MmioBus();
  readonly stats: Float64Array;
  readonly control: Int32Array;
  unclaimedPolicy: UnclaimedPolicy;
  /** Filled by devices / handlers that end the run with a power-off request. */
  powerOffStatus: number | undefined;
  lastSystemEvent: { type: number; flags: bigint } | undefined;

  private runState: CpuRunState = 'idle';
  private readonly exitHandlers: (ExitHandler | undefined)[] = new Array(EXIT_REASON_SLOTS).fill(undefined);
  private readonly ringOffset: number;
  private readonly ringMax: number;
  private readonly ring32: Int32Array | undefined;
  private stopRequestedLocally = false;

  /** KVM holds newer state than the ThreadContext (set after every KVM_RUN). */
  protected kvmStateDirty = true;
  /** The ThreadContext holds newer state than KVM (push before the next KVM_RUN). */
  protected threadContextDirty = false;

  constructor(handles: VcpuHandles, options: CpuOptions = {}) {
    this.id = handles.id;
    this.fd = handles.fd;
    const ab = native.mappingById(handles.runMappingId).view(0, handles.runSize);
    this.runBytes = new Uint8Array(ab);
    this.run = new DataView(ab);
    this.stats = options.stats ?? new Float64Array(STAT_SLOTS);
    this.control = options.control ?? newControlBlock();
    this.unclaimedPolicy = options.unclaimed ?? 'ignore';
    const page = options.coalescedRingPage ?? handles.coalescedRingPage;
    const pageSize = native.pageSize();
    if (page > 0 && (page + 1) * pageSize <= handles.runSize) {
      this.ringOffset = page * pageSize;
      this.ringMax = Math.floor((pageSize - CoalescedMmioRingLayout.entries) / CoalescedMmioEntryLayout.sizeof);
      this.ring32 = new Int32Array(ab, this.ringOffset, 2);
    } else {
      this.ringOffset = 0;
      this.ringMax = 0;
      this.ring32 = undefined;
    }
    this.exitHandlers[KvmExitReason.MMIO] = (cpu) => cpu.handleMmio();
    this.exitHandlers[KvmExitReason.INTR] = () => ExitAction.Continue;
    this.exitHandlers[KvmExitReason.INTERNAL_ERROR] = (cpu) => cpu.failInternal();
    this.exitHandlers[KvmExitReason.FAIL_ENTRY] = (cpu) => cpu.failEntry();
    this.exitHandlers[KvmExitReason.SYSTEM_EVENT] = (cpu) => cpu.handleSystemEvent();
  }

  abstract readonly arch: string;

  get state(): CpuRunState {
    return this.runState;
  }

  // ---- template methods for arch plugins ---------------------------------------------------

  /** Push the ThreadContext into KVM (called before KVM_RUN when the context is dirty). */
  protected abstract updateKvmState(): void;
  /** Pull KVM's state into the ThreadContext. */
  protected abstract updateThreadContext(): void;
  /** The current ThreadContext object (not synced). */
  protected abstract get threadContext(): TC;
  /** Human-readable register dump for errors and `kvmts dump`. */
  abstract dumpState(): string;

  // ---- state sync --------------------------------------------------------------------------

  /** The architectural state, pulled from KVM if KVM is newer. Only valid while not running. */
  getThreadContext(): TC {
    this.requireNotRunning('read the thread context');
    if (this.kvmStateDirty) {
      this.updateThreadContext();
      this.kvmStateDirty = false;
    }
    return this.threadContext;
  }

  /** Note that the ThreadContext was modified: it is pushed to KVM before the next run. */
  markThreadContextDirty(): void {
    this.requireNotRunning('modify the thread context');
    if (this.kvmStateDirty) {
      // Pull first so fields the caller did not touch are not overwritten with stale values.
      this.updateThreadContext();
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

  /** The handler installed for `reason` (so a plugin can wrap or chain it). */
  getExitHandler(reason: number): ExitHandler | undefined {
    return this.exitHandlers[reason];
  }

  // ---- the run loop ------------------------------------------------------------------------

  /**
   * Run the vCPU on the calling thread until something stops it. Synchronous: call it from a
   * worker thread (the machine does) or, in tests, from the main thread.
   */
  runLoop(maxExits = Infinity): StopReason {
    if (this.runState === 'failed' || this.runState === 'closed' || this.runState === 'switched-out') {
      throw new LifecycleError(`vCPU ${this.id}`, this.runState, 'run');
    }
    const ctl = this.control;
    const stats = this.stats;
    const handlers = this.exitHandlers;
    this.syncToKvm();
    this.powerOffStatus = undefined;
    this.stopRequestedLocally = false;
    Atomics.store(ctl, ControlSlot.running, 1);
    this.runState = 'running';
    let exits = 0;
    try {
      for (;;) {
        if (Atomics.load(ctl, ControlSlot.stop) !== 0) {
          this.halfEntry();
          Atomics.add(ctl, ControlSlot.ack, 1);
          return this.toIdle('stopped');
        }
        const r = runVcpu(this.fd);
        this.kvmStateDirty = true;
        stats[StatSlot.runs]++;
        if (r < 0) {
          if (r === -EINTR || r === -EAGAIN) {
            stats[StatSlot.interrupted]++;
            continue; // the loop top decides whether this was a stop request
          }
          throw new KvmError('KVM_RUN', -r, errnoCode(r), `vCPU ${this.id}`);
        }
        this.runState = 'service';
        if (this.ring32 !== undefined && this.ring32[0] !== this.ring32[1]) this.flushCoalesced();
        const reason = this.run.getUint32(R.exit_reason, true);
        const handler = reason < EXIT_REASON_SLOTS ? handlers[reason] : undefined;
        if (handler === undefined) throw this.unknownExit(reason);
        stats[reason]++;
        const action = handler(this);
        this.runState = 'running';
        if (action !== ExitAction.Continue || this.stopRequestedLocally) {
          this.halfEntry();
          return this.toIdle(this.powerOffStatus !== undefined ? 'poweroff' : this.pendingStopReason);
        }
        if (++exits >= maxExits) {
          this.halfEntry();
          return this.toIdle('exit-limit');
        }
      }
    } catch (e) {
      this.runState = 'failed';
      Atomics.store(ctl, ControlSlot.running, 0);
      throw e;
    }
  }

  /** Reason reported when a handler returns Stop without a power-off (set by handlers). */
  protected pendingStopReason: StopReason = 'halted';

  private toIdle(reason: StopReason): StopReason {
    this.runState = 'idle';
    Atomics.store(this.control, ControlSlot.running, 0);
    return reason;
  }

  /** Ask the loop (from a device handler on this thread) to stop after the current exit. */
  requestStop(reason: StopReason): void {
    this.pendingStopReason = reason;
    this.stopRequestedLocally = true;
  }

  /** A device asked for power-off: remember the status and stop after this exit. */
  requestPowerOff(status: number): void {
    this.powerOffStatus = status;
    this.requestStop('poweroff');
  }

  /**
   * Re-enter KVM_RUN with immediate_exit set: KVM completes a pending IN/MMIO read (loading
   * the register, advancing RIP) and returns EINTR without running guest code. Needed before
   * any state is read or written after an I/O exit (api.rst completion rule).
   */
  private halfEntry(): void {
    const b = this.runBytes;
    const prev = b[R.immediate_exit];
    b[R.immediate_exit] = 1;
    runVcpu(this.fd);
    this.stats[StatSlot.halfEntries]++;
    // Leave it set if a controller set it (it is cleared on resume); clear it if we set it.
    if (prev === 0 && Atomics.load(this.control, ControlSlot.stop) === 0) b[R.immediate_exit] = 0;
  }

  /**
   * Prepare to run again after a stop: clear the stop request and immediate_exit. Called by the
   * controller (or the machine's worker) before the next runLoop().
   */
  resume(): void {
    clearVcpuStop(this.control, this.runBytes);
  }

  /** Complete pending I/O so the state can be read or written (the vCPU must be idle). */
  drain(): void {
    this.requireNotRunning('drain');
    this.halfEntry();
  }

  /** Hand the thread over to another CPU model: state is pulled, this CPU will not run again. */
  switchOut(): TC {
    this.requireNotRunning('switch out');
    this.drain();
    const tc = this.getThreadContext();
    this.runState = 'switched-out';
    return tc;
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

  /** Copy `tc` into this CPU's own ThreadContext (arch-specific). */
  protected abstract loadThreadContext(tc: TC): void;

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
    this.runState = 'closed';
  }

  // ---- exits handled in core ---------------------------------------------------------------

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

  private handleMmio(): ExitAction {
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
    return ExitAction.Continue;
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
      const ok = pio !== 0 ? this.pio.write(addr, size, value, hi) : this.mmio.write(addr, size, value, len === 8 ? hi : 0);
      if (!ok) this.unclaimed(pio !== 0 ? 'coalesced PIO write' : 'coalesced MMIO write', addr, len);
    }
  }

  private failInternal(): ExitAction {
    const v = this.run;
    const sub = v.getUint32(R.internal_suberror, true);
    const names = ['', 'emulation failure', 'simultaneous exceptions', 'event delivery failure', 'unexpected exit reason'];
    const ndata = Math.min(v.getUint32(R.internal_ndata, true), 16);
    const data: string[] = [];
    for (let i = 0; i < ndata; i++) data.push('0x' + v.getBigUint64(R.internal_data + 8 * i, true).toString(16));
    throw this.guestError('internal-error', `KVM internal error, suberror ${sub} (${names[sub] ?? 'unknown'})${data.length ? `, data [${data.join(', ')}]` : ''}`, { suberror: sub });
  }

  private failEntry(): ExitAction {
    const reason = this.run.getBigUint64(R.fail_entry_hardware_entry_failure_reason, true);
    throw this.guestError('fail-entry', `KVM could not enter the guest (hardware entry failure reason 0x${reason.toString(16)}): the register state is invalid`, { hardwareReason: reason });
  }

  private handleSystemEvent(): ExitAction {
    const type = this.run.getUint32(R.system_event_type, true);
    this.lastSystemEvent = { type, flags: this.run.getBigUint64(R.system_event_data, true) };
    this.requestStop('system-event');
    return ExitAction.Stop;
  }

  /** State may be read and written unless the vCPU is inside KVM_RUN (handlers run in 'service'). */
  private requireNotRunning(operation: string): void {
    if (this.runState === 'running') throw new LifecycleError(`vCPU ${this.id}`, this.runState, operation);
    if (this.runState === 'closed') throw new LifecycleError(`vCPU ${this.id}`, this.runState, operation);
  }
}
