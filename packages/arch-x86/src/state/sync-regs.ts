/**
 * KVM_CAP_SYNC_REGS on x86: kvm_run.s.regs (struct kvm_sync_regs) carries the regs, sregs and
 * events groups across KVM_RUN. KVM copies the groups named in kvm_run.kvm_valid_regs into it on
 * every exit, and on entry applies the groups named in kvm_run.kvm_dirty_regs (regs, then sregs,
 * then events) and clears their bits. So reading RIP after an exit costs no ioctl, and neither
 * does writing registers before a resume. X86StateSync uses this area as a source for pulls
 * and a target for pushes; this module keeps the bookkeeping: which groups the area holds fresh
 * from the last exit, and which writes are staged in it, not yet taken by KVM.
 *
 * Rules that keep the state exact:
 * - A staged group is not requested back (its kvm_valid_regs bit is off) until KVM has taken
 *   the write: a KVM_RUN that returns before applying it (a vCPU waiting for INIT/SIPI returns
 *   without reaching sync_regs, yet stores the requested groups) would otherwise overwrite the
 *   staged bytes with KVM's old state and then apply those.
 * - A staged group is applied at KVM_RUN entry, after every ioctl pushed before it; it may be
 *   staged only if no group that must reach KVM after it (MUST_FOLLOW) is pushed by ioctl.
 * - Any ioctl that writes state makes what the area holds stale until the next exit.
 *
 * arm64 has no equivalent: its kvm_sync_regs holds only device_irq_level and KVM does not
 * offer KVM_CAP_SYNC_REGS there.
 */
import { KvmRunLayout } from '@kvmts/core';
import { X86SyncRegs } from '../abi/constants';
import { X86RegsLayout, X86SregsLayout, X86SyncRegsLayout, X86VcpuEventsLayout } from '../abi/layouts';
import { GROUP_BIT, X86_PUSH_ORDER, type X86StateGroup } from './groups';

/** The state groups kvm_run.s can carry. */
export const X86_SYNC_REGS_GROUPS = ['regs', 'sregs', 'events'] as const;
export type X86SyncRegsGroup = (typeof X86_SYNC_REGS_GROUPS)[number];

/**
 * What X86KvmCPU requests by default: the general registers, which exit handlers read (RIP,
 * the m5op and hypercall arguments). sregs and events cost KVM a copy on every exit (sregs
 * reads every segment) and are read far less often; ask for them with archOptions.syncRegs.
 */
export const X86_DEFAULT_SYNC_REGS: readonly X86SyncRegsGroup[] = ['regs'];

/** Each group's KVM_SYNC_X86_* bit and its bytes in kvm_run (offset from the start of kvm_run). */
export const SYNC_REGS_AREA: Readonly<Record<X86SyncRegsGroup, { readonly kvmBit: number; readonly offset: number; readonly size: number }>> = {
  regs: { kvmBit: X86SyncRegs.REGS, offset: KvmRunLayout.sync_regs + X86SyncRegsLayout.fields.regs.offset, size: X86RegsLayout.size },
  sregs: { kvmBit: X86SyncRegs.SREGS, offset: KvmRunLayout.sync_regs + X86SyncRegsLayout.fields.sregs.offset, size: X86SregsLayout.size },
  events: { kvmBit: X86SyncRegs.EVENTS, offset: KvmRunLayout.sync_regs + X86SyncRegsLayout.fields.events.offset, size: X86VcpuEventsLayout.size },
};

const after = (group: X86StateGroup): number => X86_PUSH_ORDER.slice(X86_PUSH_ORDER.indexOf(group) + 1).reduce((m, g) => m | GROUP_BIT[g], 0);

/**
 * The groups that must reach KVM after each stageable group (as state-bit masks). regs: only
 * events (KVM_SET_REGS drops a pending exception, so events go last); nothing else depends on
 * the general registers. sregs: everything after it in X86_PUSH_ORDER (APIC_BASE before the
 * LAPIC, EFER before the MSRs, …). events: nothing (last).
 */
export const MUST_FOLLOW: Readonly<Record<X86SyncRegsGroup, number>> = {
  regs: GROUP_BIT.events,
  sregs: after('sregs'),
  events: 0,
};

const STAGEABLE_BITS = X86_SYNC_REGS_GROUPS.reduce((m, g) => m | GROUP_BIT[g], 0);

/**
 * Which of the groups in `push` (state-bit mask) go through kvm_run (`staged`) and which by
 * ioctl, given the groups that may be staged: walking the push order backwards, a stageable
 * group is staged unless a group it must precede is pushed by ioctl.
 */
export function routePush(push: number, stageable: number): { readonly staged: number; readonly ioctl: number } {
  let staged = 0;
  let ioctl = 0;
  for (let i = X86_PUSH_ORDER.length - 1; i >= 0; i--) {
    const g = X86_PUSH_ORDER[i];
    const bit = GROUP_BIT[g];
    if ((push & bit) === 0) continue;
    if ((stageable & bit) !== 0 && (ioctl & MUST_FOLLOW[g as X86SyncRegsGroup]) === 0) staged |= bit;
    else ioctl |= bit;
  }
  return { staged, ioctl };
}

/** KVM_SYNC_X86_* bits → state-group bits. */
export function groupsOfKvmBits(kvmBits: number): number {
  let m = 0;
  for (const g of X86_SYNC_REGS_GROUPS) if (kvmBits & SYNC_REGS_AREA[g].kvmBit) m |= GROUP_BIT[g];
  return m;
}

/** State-group bits → KVM_SYNC_X86_* bits (groups kvm_run cannot carry are ignored). */
export function kvmBitsOfGroups(groups: number): number {
  let m = 0;
  for (const g of X86_SYNC_REGS_GROUPS) if (groups & GROUP_BIT[g]) m |= SYNC_REGS_AREA[g].kvmBit;
  return m;
}

/** Every KVM_SYNC_X86_* combination → its group bits: groupsOfKvmBits as one load, for kvmRan. */
const KVM_BITS_ALL = X86_SYNC_REGS_GROUPS.reduce((m, g) => m | SYNC_REGS_AREA[g].kvmBit, 0);
const GROUPS_OF_KVM_BITS: readonly number[] = Array.from({ length: KVM_BITS_ALL + 1 }, (_, bits) => groupsOfKvmBits(bits));

// kvm_run offsets read once: the compiled re-exports of @kvmts/core are getters.
const VALID_REGS = KvmRunLayout.kvm_valid_regs;
const DIRTY_REGS = KvmRunLayout.kvm_dirty_regs;

/** RFLAGS in kvm_run.s.regs: bit 1 is always set in a real RFLAGS, so its absence marks "not written by KVM". */
const REGS_RFLAGS = X86RegsLayout.fields.rflags.offset;
const AREA_RFLAGS = SYNC_REGS_AREA.regs.offset + REGS_RFLAGS;
const RFLAGS_FIXED = 0x2;
const RFLAGS_FIXED_WORD = BigInt(RFLAGS_FIXED);

/**
 * The sync-regs part of one vCPU's kvm_run, and what X86StateSync knows about it. Masks are
 * state-group bits (GROUP_BIT).
 *
 * KVM fills the area on every KVM_RUN return, but X86StateSync learns that a run happened only
 * when the context is invalidated, and an invalidation can also come without a run (a fresh
 * vCPU, an error dump). So kvmRan() trusts the area only on evidence of a run: RFLAGS in the
 * regs area has its always-one bit 1 (kvmRan clears that bit, the area's only change), or KVM
 * took a staged write. Without evidence the groups are pulled by ioctl, as without the cap.
 *
 * Nothing is copied at kvmRan(): a group is read out of the area when it is first read
 * (read(), regsWord()). That is exact because the area does not change between an invalidation
 * and the next KVM_RUN except through this class: stage() overwrites a group and stops holding
 * it fresh, and the cleared RFLAGS bit is put back in what is read (it is 1 in every RFLAGS
 * KVM stores). The next KVM_RUN is always followed by kvmRan() before the next read
 * (BaseKvmCPU invalidates after every run), which decides afresh.
 */
export class SyncRegsArea {
  /** Groups requested from KVM (kvm_valid_regs when nothing is staged); regs is always among them. */
  private enabled = 0;
  /** Groups the area holds as KVM had them at the last exit. */
  private fresh = 0;
  /** Groups written into the area for KVM to apply at the next entry. */
  private staged = 0;
  private readonly bytes: Uint8Array;
  /** Each group's bytes in kvm_run. */
  private readonly views: Record<X86SyncRegsGroup, Uint8Array>;

  constructor(private readonly run: DataView) {
    this.bytes = new Uint8Array(run.buffer, run.byteOffset, run.byteLength);
    const view = (g: X86SyncRegsGroup): Uint8Array => this.bytes.subarray(SYNC_REGS_AREA[g].offset, SYNC_REGS_AREA[g].offset + SYNC_REGS_AREA[g].size);
    this.views = { regs: view('regs'), sregs: view('sregs'), events: view('events') };
  }

  /**
   * Request `groups` (state-group bits; regs is added: it carries the evidence of a run) from
   * now on, or nothing for 0. Withdraws staged writes and forgets what is fresh.
   */
  enable(groups: number): void {
    this.unstage(this.staged);
    this.enabled = groups === 0 ? 0 : (groups & STAGEABLE_BITS) | GROUP_BIT.regs;
    this.fresh = 0;
    this.markRead();
    this.writeValid();
  }

  get enabledGroups(): number {
    return this.enabled;
  }

  get stagedGroups(): number {
    return this.staged;
  }

  get freshGroups(): number {
    return this.fresh;
  }

  /**
   * KVM may have run since the last call. A staged write whose kvm_dirty_regs bit KVM cleared
   * was taken (its group is requested again); if KVM ran, the requested groups are held fresh
   * (read out when first read). Returns the staged groups KVM has not taken yet. Per exit this
   * is a few loads and one byte store: no copy.
   */
  kvmRan(): number {
    const v = this.run;
    const staged = this.staged;
    const requested = GROUPS_OF_KVM_BITS[v.getUint32(VALID_REGS, true) & KVM_BITS_ALL];
    const pending = staged === 0 ? 0 : staged & GROUPS_OF_KVM_BITS[v.getUint32(DIRTY_REGS, true) & KVM_BITS_ALL];
    const taken = staged & ~pending;
    const ran = taken !== 0 || ((requested & GROUP_BIT.regs) !== 0 && (this.bytes[AREA_RFLAGS] & RFLAGS_FIXED) !== 0);
    this.fresh = ran ? requested & ~pending : 0;
    this.staged = pending;
    // Seen (or, from a staged write KVM took, not KVM's to vouch for): cleared as evidence.
    this.markRead();
    if (taken !== 0) this.writeValid();
    return pending;
  }

  /** Staged groups KVM has not taken (read from kvm_dirty_regs). */
  pending(): number {
    return this.staged & GROUPS_OF_KVM_BITS[this.run.getUint32(DIRTY_REGS, true) & KVM_BITS_ALL];
  }

  /** Whether the area holds `group` as KVM stored it at the last exit. */
  holds(group: X86SyncRegsGroup): boolean {
    return (this.fresh & GROUP_BIT[group]) !== 0;
  }

  /** Copy `group` as KVM stored it at the last exit into `into` (its raw struct); false when it is not held fresh. */
  read(group: X86SyncRegsGroup, into: Uint8Array): boolean {
    if ((this.fresh & GROUP_BIT[group]) === 0) return false;
    into.set(this.views[group]);
    if (group === 'regs') into[REGS_RFLAGS] |= RFLAGS_FIXED;
    return true;
  }

  /**
   * One 64-bit field of kvm_regs (`offset` in the struct) as KVM stored it at the last exit,
   * without copying the rest. Only while holds('regs').
   */
  regsWord(offset: number): bigint {
    const w = this.run.getBigUint64(SYNC_REGS_AREA.regs.offset + offset, true);
    return offset === REGS_RFLAGS ? w | RFLAGS_FIXED_WORD : w;
  }

  /** Whether `group` may be staged (it is requested from KVM). */
  stageable(group: X86StateGroup): boolean {
    return (this.enabled & GROUP_BIT[group]) !== 0;
  }

  /** Write `group` for KVM to apply at the next KVM_RUN entry; not requested back until it has. */
  stage(group: X86SyncRegsGroup, from: Uint8Array): void {
    const { offset, kvmBit } = SYNC_REGS_AREA[group];
    this.bytes.set(from, offset);
    this.staged |= GROUP_BIT[group];
    this.fresh &= ~GROUP_BIT[group];
    this.run.setUint32(DIRTY_REGS, this.run.getUint32(DIRTY_REGS, true) | kvmBit, true);
    this.writeValid();
  }

  /** Withdraw staged writes of `groups` (they are being pushed by ioctl instead). */
  unstage(groups: number): void {
    const g = groups & this.staged;
    if (g === 0) return;
    this.staged &= ~g;
    this.run.setUint32(DIRTY_REGS, this.run.getUint32(DIRTY_REGS, true) & ~kvmBitsOfGroups(g), true);
    // The staged bytes are not KVM's: they must not pass for evidence of a run.
    if (g & GROUP_BIT.regs) this.markRead();
    this.writeValid();
  }

  /** An ioctl changed KVM's state: nothing the area holds is current until KVM runs again. */
  stale(): void {
    this.fresh = 0;
  }

  /** Clear the evidence bit (not while regs are staged: those bytes are for KVM to take). */
  private markRead(): void {
    if ((this.staged & GROUP_BIT.regs) === 0) this.bytes[AREA_RFLAGS] &= ~RFLAGS_FIXED;
  }

  private writeValid(): void {
    this.run.setUint32(VALID_REGS, kvmBitsOfGroups(this.enabled & ~this.staged), true);
  }
}
