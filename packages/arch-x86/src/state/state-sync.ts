/**
 * The lazy, per-group state sync of one x86 vCPU: which groups of its X86ThreadContext are
 * current with KVM (valid) and which the context changed (dirty), and the KVM_GET/KVM_SET
 * ioctls of each group. X86KvmCPU owns one and maps BaseKvmCPU's sync contract onto it:
 *
 *   invalidateThreadContext → invalidate()  KVM ran: forget every group not modified
 *   a field of the context is read        → ensure(group): pull it if stale (one ioctl) and
 *                                            decode its raw KVM struct into objects
 *   readRegister/readRip                  → readRegister(name): one register, nothing decoded
 *   updateThreadContext     → pullAll()     pull every stale group, MP_STATE first (raw only)
 *   markThreadContextDirty  → markAllDirty() every group held now or pulled later is pushed
 *   updateKvmState          → pushDirty()   push the dirty groups in X86_PUSH_ORDER
 *
 * The ioctls go through a function the CPU gives it, so the unit tests count them on a fake. A
 * full pull or push runs its ~10 ioctls as one batch when the CPU gives a batch port
 * (state-io.ts: one N-API crossing instead of ten), keeping the order and naming the ioctl
 * that failed as before.
 *
 * KVM_CAP_SYNC_REGS (sync-regs.ts), when the CPU hands over its kvm_run: after an exit the
 * groups KVM copied into kvm_run.s (regs by default; sregs, events on request) are pulled from
 * there, no ioctl; while `staging` (X86KvmCPU sets it inside runLoop) a push of those groups is
 * written there for KVM_RUN to apply, no ioctl either, when the push order allows it (routePush).
 * commitStaged() turns staged writes into ioctls when KVM must hold them now.
 *
 * TSC: pulling the msrs group reads the guest TSC at that moment. Writing that value back to the
 * same vCPU later would rewind the guest's clock by the time in between (and skew it against the
 * other vCPUs), so the push leaves TSC out unless the context changed it or came from elsewhere
 * (takeOverFrom): then it is written, and the guest's TSC continues from the saved value. No
 * KVM_SET_TSC_KHZ: KVM_CAP_TSC_CONTROL is 0 on the hosts kvmts runs on.
 */
import { ConfigError, KvmCap, KvmError, KvmIoctl } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import {
  X86Cpuid2Layout,
  X86CpuidEntry2Layout,
  X86DebugregsLayout,
  X86FpuLayout,
  X86LapicStateLayout,
  X86MsrEntryLayout,
  X86MsrsLayout,
  X86RegsLayout,
  X86Sregs2Layout,
  X86SregsLayout,
  X86VcpuEventsLayout,
  X86XcrsLayout,
} from '../abi/layouts';
import { X86_REG_WORD, decodeRegsWords, encodeRegsWords } from '../abi/regs-codec';
import type { X86GprName } from '../abi/registers';
import { createX86Sregs, decodeSregs, decodeSregs2, encodeSregs, encodeSregs2 } from '../abi/sregs-codec';
import { decodeFpu, decodeFxsave, encodeFpu, encodeFxsave } from '../abi/fpu-codec';
import { decodeXcrs, encodeXcrs } from '../abi/xcrs-codec';
import { decodeDebugRegs, encodeDebugRegs } from '../abi/debugregs-codec';
import { decodeVcpuEvents, encodeVcpuEvents } from '../abi/vcpu-events-codec';
import { decodeMsrValues, encodeMsrs, msrsBytes, type X86Msr } from '../abi/msrs-codec';
import { KVM_XSAVE_BYTES, XSAVE_HEADER, readXstateBv } from '../isa/xsave';
import { MSR, msrName } from '../isa/msrs';
import { MAX_CPUID_ENTRIES, decodeCpuidEntries, encodeCpuid2 } from './cpuid';
import { ALL_GROUPS, GROUP_BIT, X86_PULL_ORDER, X86_PUSH_ORDER, X86_STATE_GROUPS as ALL_GROUP_NAMES, type X86StateGroup } from './groups';
import { X86ThreadContext, createX86StateData, type X86StateData, type X86StateSource } from './thread-context';
import { StateIoQueue, type VcpuIoctl, type VcpuIoctlBatchPort } from './state-io';
import { SyncRegsArea, X86_SYNC_REGS_GROUPS, routePush, SYNC_REGS_AREA, type X86SyncRegsGroup } from './sync-regs';

export type { VcpuIoctl, VcpuIoctlBatchPort } from './state-io';

/** What the CPU gives X86StateSync besides single ioctls. */
export interface X86StateIo {
  /** Runs a full pull or push in one crossing (else one ioctl at a time). */
  readonly batch?: VcpuIoctlBatchPort;
  /** The vCPU's kvm_run, for KVM_CAP_SYNC_REGS (when caps.syncRegs offers it). */
  readonly run?: DataView;
}

/** What this KVM offers for vCPU state (KVM_CHECK_EXTENSION on the VM fd). */
export interface X86StateCaps {
  /** KVM_CAP_SREGS2: KVM_GET/SET_SREGS2 (PDPTRs, no interrupt bitmap). */
  readonly sregs2: boolean;
  /** Bytes of KVM's XSAVE image: KVM_CAP_XSAVE2's answer, 4096 with KVM_CAP_XSAVE only, 0 without (then KVM_GET/SET_FPU). */
  readonly xsaveBytes: number;
  /** KVM_CAP_XSAVE2: read with KVM_GET_XSAVE2 (KVM_GET_XSAVE copies only 4096 bytes). */
  readonly xsave2: boolean;
  readonly xcrs: boolean;
  readonly debugRegs: boolean;
  readonly vcpuEvents: boolean;
  /** KVM_CAP_SYNC_REGS: the KVM_SYNC_X86_* groups kvm_run.s carries (0 or absent: none). */
  readonly syncRegs?: number;
}

// Read once: the compiled re-exports of @kvmts/core are getters, dear on a per-sync path.
const GET_MP_STATE = KvmIoctl.GET_MP_STATE;
const SET_MP_STATE = KvmIoctl.SET_MP_STATE;
/** KVM_MP_STATE_RUNNABLE. */
const MP_RUNNABLE = 0;
/** XSTATE_BV bits KVM_SET_FPU can carry: x87 and SSE. */
const FP_SSE = 3n;
const MSRS_ENTRIES = X86MsrsLayout.fields.entries.offset;
const MSR_ENTRY = X86MsrEntryLayout.size;
const MSR_DATA = X86MsrEntryLayout.fields.data.offset;
/** KVM_MAX_CPUID_ENTRIES: what one KVM_GET_CPUID2 holds on every kernel so far. */
const CPUID_CAPACITY = 256;
const ENTRY = X86CpuidEntry2Layout.size;
const ENTRY_FLAGS = X86CpuidEntry2Layout.fields.flags.offset;
const CPUID_SENTINEL = 0xffffffff;
/** SET_MSRS order: TSC first (TSC_DEADLINE is relative to it), TSC_DEADLINE last. */
const MSR_RANK = (index: number): number => (index === MSR.TSC ? 0 : index === MSR.TSC_DEADLINE ? 2 : 1);

/**
 * The pull and push orders as group bits, by position: the full-sync loops test bits from these
 * arrays, since a lookup keyed by a group name that changes every iteration (GROUP_BIT[g]) is a
 * megamorphic load in V8.
 */
const PULL_BITS: readonly number[] = X86_PULL_ORDER.map((g) => GROUP_BIT[g]);
const PUSH_BITS: readonly number[] = X86_PUSH_ORDER.map((g) => GROUP_BIT[g]);

/** A kvm_cpuid2 of `capacity` slots whose flags are all CPUID_SENTINEL (cached per size). */
const sentinelTemplates = new Map<number, Uint8Array>();
function cpuidSentinels(capacity: number): Uint8Array {
  let t = sentinelTemplates.get(capacity);
  if (t === undefined) {
    t = new Uint8Array(X86Cpuid2Layout.size + capacity * ENTRY);
    const v = new DataView(t.buffer);
    for (let i = 0; i < capacity; i++) v.setUint32(X86Cpuid2Layout.size + i * ENTRY + ENTRY_FLAGS, CPUID_SENTINEL, true);
    sentinelTemplates.set(capacity, t);
  }
  return t;
}
export class X86StateSync implements X86StateSource {
  /** The context the CPU hands out; it reads through ensure(). */
  readonly tc: X86ThreadContext;
  private readonly state: X86StateData = createX86StateData();
  /** Groups current with KVM (or loaded): held in their raw KVM struct or as objects. */
  private valid = 0;
  /** Groups whose objects in `state` are the current form (decoded, loaded, or being modified). */
  private objects = ALL_GROUPS;
  private dirty = 0;
  /** markAllDirty(): every group valid at push time is pushed. */
  private allDirty = false;
  /** The vCPU has an in-kernel LAPIC (archOptions.irqchip 'kernel'). */
  private lapic = false;
  /** TSC as last pulled from (or written to) this vCPU; undefined when the msrs group came from elsewhere. */
  private tscPulled: bigint | undefined;

  // The raw KVM structs, pulled into and pushed from. A full sync that nobody reads moves only
  // these (as a C VMM would); a group is decoded into objects when the context reads it.
  private readonly regsBuf = new DataView(new ArrayBuffer(X86RegsLayout.size));
  /** regsBuf as its 18 words, which the regs codec reads and writes (regs-codec.ts says why). */
  private readonly regsWords = new BigUint64Array(this.regsBuf.buffer);
  private readonly sregsBuf: DataView;
  private readonly fpuBuf = new DataView(new ArrayBuffer(X86FpuLayout.size));
  private readonly xcrsBuf = new DataView(new ArrayBuffer(X86XcrsLayout.size));
  private readonly debugBuf = new DataView(new ArrayBuffer(X86DebugregsLayout.size));
  private readonly eventsBuf = new DataView(new ArrayBuffer(X86VcpuEventsLayout.size));
  private readonly mpBuf = new DataView(new ArrayBuffer(4));
  private cpuidBuf = new DataView(new ArrayBuffer(X86Cpuid2Layout.size + CPUID_CAPACITY * ENTRY));
  private cpuidCount = 0;
  /** Slots of cpuidBuf that may hold an entry; the rest hold the sentinel (a new buffer: all of them, it holds zeros). */
  private cpuidWritten = CPUID_CAPACITY;
  /** kvm_msrs with this vCPU's MSR indices, for KVM_GET_MSRS. */
  private msrGetBuf = new DataView(new ArrayBuffer(msrsBytes(0)));
  private msrSetBuf = new DataView(new ArrayBuffer(msrsBytes(0)));
  private msrSetBytes = new Uint8Array(this.msrSetBuf.buffer);
  /**
   * What a raw push of the msrs group sends (configure() sets them): the entries KVM_GET_MSRS
   * left before the TSC and after it, as views of msrGetBuf, and their number. The TSC is left
   * out: unchanged since the pull, writing it would rewind the guest's clock.
   */
  private rawMsrsBefore = new Uint8Array(0);
  private rawMsrsAfter = new Uint8Array(0);
  private rawMsrsToPush = 0;
  /** Where msrList has the TSC (-1: not carried). */
  private msrTscAt = -1;
  private msrList: readonly number[] = [];
  /** Single ioctls, or a batch being queued. */
  private readonly queue: StateIoQueue;
  /** kvm_run.s (KVM_CAP_SYNC_REGS), when offered and given. */
  private readonly area: SyncRegsArea | undefined;
  /** The raw structs of the groups kvm_run can carry, as bytes (kvm_regs, kvm_sregs, kvm_vcpu_events). */
  private readonly syncBytes: Record<X86SyncRegsGroup, Uint8Array>;
  /** Pushes may stage groups in kvm_run (set by X86KvmCPU while it runs the vCPU). */
  staging = false;

  constructor(
    private readonly ioctl: VcpuIoctl,
    readonly caps: X86StateCaps,
    private readonly vcpu = 'vCPU',
    io: X86StateIo = {},
  ) {
    this.sregsBuf = new DataView(new ArrayBuffer(caps.sregs2 ? X86Sregs2Layout.size : X86SregsLayout.size));
    const bytes = (view: DataView, g: X86SyncRegsGroup): Uint8Array => new Uint8Array(view.buffer, 0, SYNC_REGS_AREA[g].size);
    this.syncBytes = { regs: bytes(this.regsBuf, 'regs'), sregs: bytes(this.sregsBuf, 'sregs'), events: bytes(this.eventsBuf, 'events') };
    if (caps.xsaveBytes > 0) this.state.xsave = new Uint8Array(caps.xsaveBytes);
    this.tc = new X86ThreadContext(this.state, this);
    this.queue = new StateIoQueue(ioctl, io.batch);
    this.area = io.run !== undefined && (caps.syncRegs ?? 0) !== 0 ? new SyncRegsArea(io.run) : undefined;
  }

  /**
   * Run a full pull or push as one batch through `port` (one N-API crossing each way), or one
   * ioctl at a time (undefined; archOptions.batchStateSync decides, off by default).
   */
  useBatch(port: VcpuIoctlBatchPort | undefined): void {
    this.queue.usePort(port);
  }

  /**
   * Carry `groups` in kvm_run from now on (regs is always among them when any is: it tells that
   * KVM wrote the area). Only what KVM offers: without KVM_CAP_SYNC_REGS nothing; sregs only
   * where KVM has no SREGS2 (kvm_run carries kvm_sregs, without the PDPTRs the sregs group
   * holds); [] turns it off. Returns the groups carried.
   */
  useSyncRegs(groups: readonly X86SyncRegsGroup[]): X86SyncRegsGroup[] {
    const a = this.area;
    if (a === undefined) return [];
    const offered = this.caps.syncRegs ?? 0;
    let mask = 0;
    for (const g of groups) {
      if ((offered & SYNC_REGS_AREA[g].kvmBit) === 0) continue;
      if (g === 'sregs' && this.caps.sregs2) continue;
      mask |= GROUP_BIT[g];
    }
    // A staged write must reach KVM before the area changes hands.
    this.commitStaged();
    a.enable(mask);
    return X86_SYNC_REGS_GROUPS.filter((g) => (a.enabledGroups & GROUP_BIT[g]) !== 0);
  }

  /** The groups carried in kvm_run (KVM_CAP_SYNC_REGS). */
  get syncRegsGroups(): X86SyncRegsGroup[] {
    const enabled = this.area?.enabledGroups ?? 0;
    return X86_SYNC_REGS_GROUPS.filter((g) => (enabled & GROUP_BIT[g]) !== 0);
  }

  /**
   * Staged writes KVM has not taken are pushed by ioctl now: call before an ioctl that reads
   * vCPU state KVM must hold already (KVM_SET_GUEST_DEBUG arms single-step at the RIP it holds).
   */
  commitStaged(): void {
    const a = this.area;
    if (a === undefined || a.stagedGroups === 0) return;
    const pending = a.pending();
    if (pending === 0) return;
    a.unstage(pending);
    a.stale();
    for (let i = 0; i < PUSH_BITS.length; i++) if (pending & PUSH_BITS[i]) this.push(X86_PUSH_ORDER[i], PUSH_BITS[i]);
  }

  /** What the vCPU was set up with: an in-kernel LAPIC, and the MSRs its msrs group carries. */
  configure(options: { readonly lapic: boolean; readonly msrList: readonly number[] }): void {
    this.lapic = options.lapic;
    this.msrList = [...options.msrList];
    this.msrGetBuf = new DataView(new ArrayBuffer(msrsBytes(this.msrList.length)));
    encodeMsrs(this.msrList.map((index) => ({ index, value: 0n })), this.msrGetBuf);
    this.newMsrSetBuf(this.msrList.length);
    // The raw push's two block copies: the pulled entries before the TSC and after it.
    const tscAt = this.msrList.indexOf(MSR.TSC);
    this.msrTscAt = tscAt;
    const entry = (i: number): number => MSRS_ENTRIES + i * MSR_ENTRY;
    const pulled = new Uint8Array(this.msrGetBuf.buffer);
    const end = this.msrList.length;
    this.rawMsrsBefore = pulled.subarray(entry(0), entry(tscAt < 0 ? end : tscAt));
    this.rawMsrsAfter = pulled.subarray(tscAt < 0 ? entry(end) : entry(tscAt + 1), entry(end));
    this.rawMsrsToPush = tscAt < 0 ? end : end - 1;
    this.valid &= ~(GROUP_BIT.lapic | GROUP_BIT.msrs);
  }

  /** KVM ran: every group not modified is stale (a write staged in kvm_run and not yet taken counts as modified). */
  invalidate(): void {
    this.area?.kvmRan();
    this.valid &= this.keep();
  }

  /** The context reads `group`: pull it if stale, decode it if only its raw struct is held. */
  ensure(group: X86StateGroup): void {
    const bit = GROUP_BIT[group];
    if ((this.valid & bit) === 0) this.pull(group);
    if ((this.objects & bit) === 0) {
      this.decode(group);
      this.objects |= bit;
    }
  }

  /**
   * One general register, without decoding the others (X86StateSource.ensure('regs') decodes
   * all 18 into BigInts): from the context's objects when it holds them, else from kvm_run when
   * KVM stored regs there at the last exit (KVM_CAP_SYNC_REGS: one load, no copy), else from
   * the raw struct, pulled by KVM_GET_REGS if stale. What an exit handler reading RIP or an
   * argument register needs; the context stays as lazy as before (nothing is decoded).
   */
  readRegister(name: X86GprName): bigint {
    const bit = GROUP_BIT.regs;
    if ((this.valid & bit) === 0) {
      const a = this.area;
      if (a !== undefined && a.holds('regs')) return a.regsWord(X86_REG_WORD[name] * 8);
      this.pull('regs');
    }
    return (this.objects & bit) !== 0 ? this.state.regs[name] : this.regsWords[X86_REG_WORD[name]];
  }

  /**
   * Pull every stale group (a full sync), MP_STATE first; nothing is decoded. Batched when it
   * takes more than one ioctl; from where a batch stopped, the rest go one by one, which names
   * the failure exactly and grows the CPUID buffer on E2BIG.
   */
  pullAll(): void {
    // With an in-kernel LAPIC, KVM_GET_MP_STATE may take an INIT/SIPI that rewrites registers:
    // every group not modified is pulled after it, and what kvm_run holds from the exit is not
    // current any more.
    if (this.lapic && (this.valid & GROUP_BIT.mpState) === 0) {
      this.valid &= this.keep();
      this.area?.stale();
    }
    const stale = ALL_GROUPS & ~this.valid;
    if ((stale & (stale - 1)) !== 0 && this.queue.begin()) {
      for (let i = 0; i < PULL_BITS.length; i++) if (stale & PULL_BITS[i]) this.pull(X86_PULL_ORDER[i]);
      if (this.queue.flush() === undefined) return;
    }
    for (let i = 0; i < PULL_BITS.length; i++) if (stale & PULL_BITS[i] & ~this.valid) this.pull(X86_PULL_ORDER[i]);
  }

  /** `group` will be modified: pull it if stale, and push it before the next run. */
  markDirty(group: X86StateGroup): void {
    this.ensure(group);
    this.dirty |= GROUP_BIT[group];
  }

  markAllDirty(): void {
    this.allDirty = true;
  }

  /**
   * Push the dirty groups, in X86_PUSH_ORDER: by ioctl (batched when more than one), or — for
   * groups kvm_run carries, while staging — written into kvm_run for the next KVM_RUN, when no
   * group that must follow them goes by ioctl (routePush).
   */
  pushDirty(): void {
    const a = this.area;
    const pending = a === undefined ? 0 : a.pending();
    const mask = this.dirty | (this.allDirty ? this.valid : 0) | pending;
    const stageable = this.staging && a !== undefined ? a.enabledGroups : 0;
    let staged = 0;
    let ioctl = mask;
    if ((mask & stageable) !== 0) ({ staged, ioctl } = routePush(mask, stageable));
    if (ioctl !== 0) {
      a?.unstage(ioctl);
      a?.stale();
      const batched = (ioctl & (ioctl - 1)) !== 0 && this.queue.begin();
      for (let i = 0; i < PUSH_BITS.length; i++) if (ioctl & PUSH_BITS[i]) this.push(X86_PUSH_ORDER[i], PUSH_BITS[i]);
      if (batched) {
        const failure = this.queue.flush();
        if (failure !== undefined) throw failure.error;
      }
    }
    if (staged !== 0) {
      for (const g of X86_SYNC_REGS_GROUPS) {
        if ((staged & GROUP_BIT[g]) === 0) continue;
        this.rawForPush(g);
        a!.stage(g, this.syncBytes[g]);
      }
    }
    this.dirty = 0;
    this.allDirty = false;
  }

  /**
   * Change one group and push it at once (the setup sequence's steps). With `merge` the group
   * is pulled first, so what `change` leaves alone stays as KVM has it; without, `change`
   * replaces it.
   */
  edit(group: X86StateGroup, merge: boolean, change: (data: X86StateData) => void): void {
    const bit = GROUP_BIT[group];
    this.commitStaged();
    if (merge) this.ensure(group);
    else {
      this.valid |= bit;
      this.objects |= bit;
    }
    change(this.state);
    this.area?.stale();
    this.push(group, bit);
    this.dirty &= ~bit;
  }

  /** takeOverFrom: hold a copy of `other` (pulled first if it is live); every group is dirty. */
  load(other: X86ThreadContext): void {
    const { arch: _arch, ...groups } = other.toJSON();
    Object.assign(this.state, groups);
    this.valid = ALL_GROUPS;
    this.objects = ALL_GROUPS;
    this.dirty = ALL_GROUPS;
    this.tscPulled = undefined;
    // Every group is pushed from the copy: nothing staged or held in kvm_run still counts.
    this.area?.unstage(ALL_GROUPS);
    this.area?.stale();
  }

  /** Groups whose content must survive an invalidation: the modified ones, and those staged in kvm_run that KVM has not taken. */
  private keep(): number {
    return this.dirty | (this.allDirty ? this.valid : 0) | (this.area?.stagedGroups ?? 0);
  }

  // ---- one group: pull (ioctl into the raw struct), decode, encode, push ---------------------

  /**
   * Pull one group: from kvm_run when it holds the group fresh from the exit, else by its
   * ioctl (now, or queued by pullAll). The group is marked valid once its ioctl has run.
   */
  private pull(group: X86StateGroup): void {
    const s = this.state;
    const q = this.queue;
    // Each case names its follow-up (a load with a constant key: cheap, unlike one by `group`).
    // The XSAVE image and the LAPIC page are kept as bytes: their raw struct is the object.
    const done = this.afterPull;
    switch (group) {
      case 'cpuid':
        this.pullCpuid();
        return;
      case 'mpState':
        q.call(group, GET_MP_STATE, 'KVM_GET_MP_STATE', this.mpBuf, this.afterMpStatePull);
        return;
      case 'regs':
        if (this.area?.read('regs', this.syncBytes.regs)) q.then(group, done.regs);
        else q.call(group, X86Ioctl.GET_REGS, 'KVM_GET_REGS', this.regsBuf, done.regs);
        return;
      case 'sregs':
        if (this.caps.sregs2) q.call(group, X86Ioctl.GET_SREGS2, 'KVM_GET_SREGS2', this.sregsBuf, done.sregs);
        else if (this.area?.read('sregs', this.syncBytes.sregs)) q.then(group, done.sregs);
        else q.call(group, X86Ioctl.GET_SREGS, 'KVM_GET_SREGS', this.sregsBuf, done.sregs);
        return;
      case 'xsave':
        this.pullXsave(this.afterPullDecoded.xsave);
        return;
      case 'xcrs':
        if (this.caps.xcrs) q.call(group, X86Ioctl.GET_XCRS, 'KVM_GET_XCRS', this.xcrsBuf, done.xcrs);
        else q.then(group, done.xcrs);
        return;
      case 'debugRegs':
        if (this.caps.debugRegs) q.call(group, X86Ioctl.GET_DEBUGREGS, 'KVM_GET_DEBUGREGS', this.debugBuf, done.debugRegs);
        else q.then(group, done.debugRegs);
        return;
      case 'lapic':
        if (!this.lapic) {
          if (s.lapic.length !== 0) s.lapic = new Uint8Array(0);
          q.then(group, this.afterPullDecoded.lapic);
        } else {
          if (s.lapic.length !== X86LapicStateLayout.size) s.lapic = new Uint8Array(X86LapicStateLayout.size);
          q.call(group, X86Ioctl.GET_LAPIC, 'KVM_GET_LAPIC', s.lapic, this.afterPullDecoded.lapic);
        }
        return;
      case 'msrs':
        q.call(group, X86Ioctl.GET_MSRS, 'KVM_GET_MSRS', this.msrGetBuf, this.afterMsrsPull, this.msrList.length);
        return;
      case 'events':
        if (!this.caps.vcpuEvents) q.then(group, done.events);
        else if (this.area?.read('events', this.syncBytes.events)) q.then(group, done.events);
        else q.call(group, X86Ioctl.GET_VCPU_EVENTS, 'KVM_GET_VCPU_EVENTS', this.eventsBuf, done.events);
        return;
    }
  }

  // Follow-ups of the pulls, made once (a full sync queues ten each time), each with its group's bit.
  private readonly afterPull = Object.fromEntries(ALL_GROUP_NAMES.map((g) => [g, this.pulledRaw(GROUP_BIT[g])])) as Record<X86StateGroup, () => void>;
  private readonly afterPullDecoded = Object.fromEntries(ALL_GROUP_NAMES.map((g) => [g, this.pulledDecoded(GROUP_BIT[g])])) as Record<X86StateGroup, () => void>;
  private readonly afterCpuidPull = (): void => {
    this.cpuidCount = this.countCpuidEntries();
    this.pulled(GROUP_BIT.cpuid, false);
  };
  private readonly afterMpStatePull = (): void => {
    // With an in-kernel LAPIC this made KVM accept a pending INIT/SIPI, which rewrites
    // registers: what was pulled before is stale (what was modified stays).
    if (this.lapic) {
      this.valid &= this.keep();
      this.area?.stale();
    }
    this.pulled(GROUP_BIT.mpState, false);
  };
  private readonly afterMsrsPull = (r: number): void => {
    if (r !== this.msrList.length) throw this.msrRefused(r, this.msrList.length, (i) => this.msrList[i], 'KVM_GET_MSRS');
    this.tscPulled = this.rawTsc();
    this.pulled(GROUP_BIT.msrs, false);
  };

  /** KVM_SET_MSRS of the raw entries (msrList minus TSC): all taken, or name the one refused. */
  private readonly afterRawMsrsPush = (r: number): void => {
    const list = this.msrList;
    const tscAt = this.msrTscAt;
    const n = this.rawMsrsToPush;
    if (r !== n) throw this.msrRefused(r, n, (i) => list[tscAt >= 0 && i >= tscAt ? i + 1 : i], 'KVM_SET_MSRS');
  };

  private pulledRaw(bit: number): () => void {
    return () => this.pulled(bit, false);
  }

  private pulledDecoded(bit: number): () => void {
    return () => this.pulled(bit, true);
  }

  /** The group of `bit` was pulled into its raw struct (or, `decoded`, straight into its object). */
  private pulled(bit: number, decoded: boolean): void {
    this.valid |= bit;
    if (decoded) this.objects |= bit;
    else this.objects &= ~bit;
  }

  /** The raw struct of `group` (just pulled) into its object in the context. */
  private decode(group: X86StateGroup): void {
    const s = this.state;
    switch (group) {
      case 'cpuid':
        s.cpuid = decodeCpuidEntries(this.cpuidBuf, this.cpuidCount);
        return;
      case 'mpState':
        s.mpState = this.mpBuf.getUint32(0, true);
        return;
      case 'regs':
        decodeRegsWords(this.regsWords, s.regs);
        return;
      case 'sregs':
        if (this.caps.sregs2) decodeSregs2(this.sregsBuf, s.sregs);
        else {
          // kvm_sregs' interrupt bitmap duplicates events.interrupt, which carries it.
          const { interruptBitmap: _pendingIsInEvents, ...common } = decodeSregs(this.sregsBuf);
          Object.assign(s.sregs, common, { flags: 0n, pdptrs: [0n, 0n, 0n, 0n] });
        }
        return;
      case 'xcrs':
        s.xcrs = this.caps.xcrs ? decodeXcrs(this.xcrsBuf) : [];
        return;
      case 'debugRegs':
        if (this.caps.debugRegs) decodeDebugRegs(this.debugBuf, s.debugRegs);
        return;
      case 'msrs': {
        const list = this.msrList;
        if (s.msrs.length !== list.length || s.msrs.some((m, i) => m.index !== list[i])) s.msrs = list.map((index) => ({ index, value: 0n }));
        decodeMsrValues(this.msrGetBuf, s.msrs);
        return;
      }
      case 'events':
        if (this.caps.vcpuEvents) decodeVcpuEvents(this.eventsBuf, s.events);
        return;
      case 'xsave':
      case 'lapic':
        return;
    }
  }

  /** Push one group by ioctl (now, or queued by pushDirty): encoded from its objects when the context holds them, else its raw struct as pulled. */
  private push(group: X86StateGroup, bit: number): void {
    const s = this.state;
    const fromObjects = (this.objects & bit) !== 0;
    const q = this.queue;
    switch (group) {
      case 'cpuid':
        this.pushCpuid(fromObjects);
        return;
      case 'mpState': {
        if (fromObjects) this.mpBuf.setUint32(0, s.mpState, true);
        // Without an in-kernel LAPIC KVM refuses every state but RUNNABLE, the only one there is.
        if (!this.lapic && this.mpBuf.getUint32(0, true) === MP_RUNNABLE) return;
        q.call(group, SET_MP_STATE, 'KVM_SET_MP_STATE', this.mpBuf);
        return;
      }
      case 'regs':
        q.call(group, X86Ioctl.SET_REGS, 'KVM_SET_REGS', this.rawForPush('regs'));
        return;
      case 'sregs':
        q.call(group, this.caps.sregs2 ? X86Ioctl.SET_SREGS2 : X86Ioctl.SET_SREGS, this.caps.sregs2 ? 'KVM_SET_SREGS2' : 'KVM_SET_SREGS', this.rawForPush('sregs'));
        return;
      case 'xsave':
        this.pushXsave();
        return;
      case 'xcrs':
        if (!this.caps.xcrs) return;
        if (fromObjects) {
          // An empty list carries no XCRs (a context from a KVM without XSAVE).
          if (s.xcrs.length === 0) return;
          encodeXcrs(s.xcrs, this.xcrsBuf);
        }
        q.call(group, X86Ioctl.SET_XCRS, 'KVM_SET_XCRS', this.xcrsBuf);
        return;
      case 'debugRegs':
        if (!this.caps.debugRegs) return;
        if (fromObjects) encodeDebugRegs(s.debugRegs, this.debugBuf);
        q.call(group, X86Ioctl.SET_DEBUGREGS, 'KVM_SET_DEBUGREGS', this.debugBuf);
        return;
      case 'lapic':
        // A context from a vCPU without an in-kernel LAPIC has none to give.
        if (this.lapic && s.lapic.length === X86LapicStateLayout.size) q.call(group, X86Ioctl.SET_LAPIC, 'KVM_SET_LAPIC', s.lapic);
        return;
      case 'msrs':
        this.pushMsrs(fromObjects);
        return;
      case 'events':
        if (!this.caps.vcpuEvents) return;
        q.call(group, X86Ioctl.SET_VCPU_EVENTS, 'KVM_SET_VCPU_EVENTS', this.rawForPush('events'));
        return;
    }
  }

  /**
   * The raw KVM struct of a group kvm_run can carry, encoded from its objects when the context
   * holds them: what KVM_SET_REGS/SREGS(2)/VCPU_EVENTS take, and what is staged in kvm_run.
   */
  private rawForPush(group: X86SyncRegsGroup): DataView {
    const s = this.state;
    const objects = this.objects;
    switch (group) {
      case 'regs':
        if (objects & GROUP_BIT.regs) encodeRegsWords(s.regs, this.regsWords);
        return this.regsBuf;
      case 'sregs':
        if (objects & GROUP_BIT.sregs) {
          if (this.caps.sregs2) encodeSregs2(s.sregs, this.sregsBuf);
          // A zero bitmap queues nothing: VCPU_EVENTS (pushed later) restores a pending
          // interrupt. PAE PDPTRs are reloaded from guest memory by KVM_SET_SREGS.
          else encodeSregs({ ...createX86Sregs(), ...s.sregs, interruptBitmap: [0n, 0n, 0n, 0n] }, this.sregsBuf);
        }
        return this.sregsBuf;
      case 'events':
        if (objects & GROUP_BIT.events) encodeVcpuEvents(s.events, this.eventsBuf);
        return this.eventsBuf;
    }
  }

  /**
   * KVM_GET_CPUID2 leaves `nent` as it was passed when it succeeds (Linux 6.1, measured) and
   * does not report the size it needs on E2BIG, so the entries it wrote are counted with a
   * sentinel — every slot's flags start as 0xffffffff, which no entry has — and the buffer grows
   * on E2BIG.
   */
  private pullCpuid(): void {
    for (;;) {
      const capacity = this.layCpuidSentinels();
      try {
        // Queued (pullAll), an E2BIG stops the batch, and pullAll pulls CPUID again from here.
        this.queue.call('cpuid', X86Ioctl.GET_CPUID2, 'KVM_GET_CPUID2', this.cpuidBuf, this.afterCpuidPull);
      } catch (e) {
        if ((e as { code?: string }).code !== 'E2BIG' || capacity >= MAX_CPUID_ENTRIES) throw e;
        this.cpuidBuf = new DataView(new ArrayBuffer(X86Cpuid2Layout.size + 2 * capacity * ENTRY));
        this.cpuidWritten = 2 * capacity;
        continue;
      }
      return;
    }
  }

  /**
   * Every slot of cpuidBuf a pull may have written gets the sentinel again, and `nent` the
   * capacity; returns the capacity. Only the slots KVM filled last time are reset (KVM writes
   * its entries from slot 0 on, so the rest still hold the sentinel): ~80 stores, not the
   * 10 KiB buffer each pull. Any slot counts as written until a pull is counted.
   */
  private layCpuidSentinels(): number {
    const buf = this.cpuidBuf;
    const capacity = (buf.byteLength - X86Cpuid2Layout.size) / ENTRY;
    const written = this.cpuidWritten;
    if (written >= capacity) new Uint8Array(buf.buffer).set(cpuidSentinels(capacity));
    else for (let i = 0; i < written; i++) buf.setUint32(X86Cpuid2Layout.size + i * ENTRY + ENTRY_FLAGS, CPUID_SENTINEL, true);
    this.cpuidWritten = capacity;
    buf.setUint32(X86Cpuid2Layout.fields.nent.offset, capacity, true);
    return capacity;
  }

  /** The entries KVM_GET_CPUID2 wrote: the slots before the first sentinel. */
  private countCpuidEntries(): number {
    const buf = this.cpuidBuf;
    const capacity = (buf.byteLength - X86Cpuid2Layout.size) / ENTRY;
    let count = 0;
    while (count < capacity && buf.getUint32(X86Cpuid2Layout.size + count * ENTRY + ENTRY_FLAGS, true) !== CPUID_SENTINEL) count++;
    this.cpuidWritten = count;
    return count;
  }

  private pushCpuid(fromObjects: boolean): void {
    // An empty table carries no CPUID: the vCPU keeps the one it was set up with.
    if (fromObjects) {
      if (this.state.cpuid.length > 0) this.queue.call('cpuid', X86Ioctl.SET_CPUID2, 'KVM_SET_CPUID2', encodeCpuid2(this.state.cpuid));
      return;
    }
    if (this.cpuidCount === 0) return;
    this.cpuidBuf.setUint32(X86Cpuid2Layout.fields.nent.offset, this.cpuidCount, true);
    this.queue.call('cpuid', X86Ioctl.SET_CPUID2, 'KVM_SET_CPUID2', this.cpuidBuf);
  }

  private pullXsave(done: () => void): void {
    const s = this.state;
    const bytes = this.caps.xsaveBytes;
    if (bytes === 0) {
      // No XSAVE in KVM: keep the same form, an XSAVE image holding x87 and SSE.
      this.queue.call('xsave', X86Ioctl.GET_FPU, 'KVM_GET_FPU', this.fpuBuf, () => {
        const image = new Uint8Array(KVM_XSAVE_BYTES);
        const view = new DataView(image.buffer);
        encodeFxsave(decodeFpu(this.fpuBuf), view);
        view.setBigUint64(XSAVE_HEADER.xstateBv, FP_SSE, true);
        s.xsave = image;
        done();
      });
      return;
    }
    if (s.xsave.length !== bytes) s.xsave = new Uint8Array(bytes);
    if (this.caps.xsave2) this.queue.call('xsave', X86Ioctl.GET_XSAVE2, 'KVM_GET_XSAVE2', s.xsave, done);
    else this.queue.call('xsave', X86Ioctl.GET_XSAVE, 'KVM_GET_XSAVE', s.xsave, done);
  }

  private pushXsave(): void {
    const image = this.state.xsave;
    const bytes = this.caps.xsaveBytes;
    if (bytes === 0) {
      const extra = readXstateBv(image) & ~FP_SSE;
      if (extra !== 0n) throw new ConfigError('threadContext.xsave', `holds XSAVE components 0x${extra.toString(16)} beyond x87/SSE, and this KVM has no XSAVE (KVM_SET_FPU carries only x87 and SSE)`);
      encodeFpu(decodeFxsave(new DataView(image.buffer, image.byteOffset, image.byteLength)), this.fpuBuf);
      this.queue.call('xsave', X86Ioctl.SET_FPU, 'KVM_SET_FPU', this.fpuBuf);
      return;
    }
    let arg = image;
    if (image.length !== bytes) {
      // An image from a KVM with another XSAVE size: what lies beyond this KVM's size must be
      // empty, else a component would be cut off.
      if (image.subarray(bytes).some((b) => b !== 0)) {
        throw new ConfigError('threadContext.xsave', `is ${image.length} bytes with data past ${bytes}, the most this KVM's XSAVE holds (KVM_CAP_XSAVE2)`);
      }
      arg = new Uint8Array(bytes);
      arg.set(image.subarray(0, Math.min(bytes, image.length)));
    }
    this.queue.call('xsave', X86Ioctl.SET_XSAVE, 'KVM_SET_XSAVE', arg);
  }

  /** TSC in the raw KVM_GET_MSRS struct, if the list has it. */
  private rawTsc(): bigint | undefined {
    const at = this.msrTscAt;
    return at < 0 ? undefined : this.msrGetBuf.getBigUint64(MSRS_ENTRIES + at * MSR_ENTRY + MSR_DATA, true);
  }

  private pushMsrs(fromObjects: boolean): void {
    if (!fromObjects) {
      this.pushRawMsrs();
      return;
    }
    const msrs = this.state.msrs;
    const tsc = msrs.find((m) => m.index === MSR.TSC)?.value;
    // Unchanged since it was pulled from this vCPU: writing it back would rewind the guest TSC.
    const skipTsc = tsc !== undefined && tsc === this.tscPulled;
    const ordered = msrs.filter((m) => !(skipTsc && m.index === MSR.TSC)).sort((a, b) => MSR_RANK(a.index) - MSR_RANK(b.index));
    if (ordered.length > 0) {
      if (this.msrSetBuf.byteLength < msrsBytes(ordered.length)) this.newMsrSetBuf(ordered.length);
      encodeMsrs(ordered, this.msrSetBuf);
      this.queue.call(
        'msrs',
        X86Ioctl.SET_MSRS,
        'KVM_SET_MSRS',
        this.msrSetBuf,
        (r) => {
          if (r !== ordered.length) throw this.msrRefused(r, ordered.length, (i) => ordered[i].index, 'KVM_SET_MSRS');
          // KVM's TSC now continues from this value: pushing it unchanged again would rewind it.
          this.tscPulled = tsc;
        },
        ordered.length,
      );
      return;
    }
    this.tscPulled = tsc;
  }

  /**
   * The entries as KVM_GET_MSRS left them, minus TSC (unchanged since the pull, so writing it
   * would rewind the guest's clock). msrList is in restore order already (TSC first,
   * TSC_DEADLINE last), so this is two block copies.
   */
  private pushRawMsrs(): void {
    const n = this.rawMsrsToPush;
    if (n === 0) return;
    const dst = this.msrSetBytes;
    dst.set(this.rawMsrsBefore, MSRS_ENTRIES);
    dst.set(this.rawMsrsAfter, MSRS_ENTRIES + this.rawMsrsBefore.length);
    this.msrSetBuf.setUint32(X86MsrsLayout.fields.nmsrs.offset, n, true);
    this.queue.call('msrs', X86Ioctl.SET_MSRS, 'KVM_SET_MSRS', this.msrSetBuf, this.afterRawMsrsPush, n);
  }

  /** A new KVM_SET_MSRS buffer for `count` entries (its bytes viewed once, for pushRawMsrs). */
  private newMsrSetBuf(count: number): void {
    this.msrSetBuf = new DataView(new ArrayBuffer(msrsBytes(count)));
    this.msrSetBytes = new Uint8Array(this.msrSetBuf.buffer);
  }

  /** KVM_GET/SET_MSRS answer how many entries they processed: fewer means one was refused, the one at `done`. */
  private msrRefused(done: number, total: number, indexAt: (i: number) => number, op: string): KvmError {
    const index = indexAt(done);
    return new KvmError(op, 0, 'EPARTIAL', `${this.vcpu}: KVM processed ${done} of ${total} MSRs and refused MSR 0x${index.toString(16)} (${msrName(index)})`);
  }
}

/** The state ioctls this KVM offers, from KVM_CHECK_EXTENSION on the VM fd (`check`). */
export function queryStateCaps(check: (cap: KvmCap) => number): X86StateCaps {
  const xsave2 = check(KvmCap.XSAVE2);
  return {
    sregs2: check(KvmCap.SREGS2) > 0,
    // KVM_CAP_XSAVE2 answers the image size (≥ 4096); without it KVM_GET_XSAVE copies 4096 bytes.
    xsaveBytes: xsave2 > 0 ? Math.max(xsave2, KVM_XSAVE_BYTES) : check(KvmCap.XSAVE) > 0 ? KVM_XSAVE_BYTES : 0,
    xsave2: xsave2 > 0,
    xcrs: check(KvmCap.XCRS) > 0,
    debugRegs: check(KvmCap.DEBUGREGS) > 0,
    vcpuEvents: check(KvmCap.VCPU_EVENTS) > 0,
    // KVM_CAP_SYNC_REGS answers the KVM_SYNC_X86_* groups kvm_run carries (7 on x86).
    syncRegs: Math.max(0, check(KvmCap.SYNC_REGS)),
  };
}
