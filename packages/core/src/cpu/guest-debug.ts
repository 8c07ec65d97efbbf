/**
 * The architecture-neutral guest-debug contract: what a debugger front end (the GDB stub) asks
 * of a vCPU — single-step, software breakpoints, hardware breakpoints and watchpoints sharing the
 * architecture's few debug slots, guest-virtual → guest-physical translation — and the stop a
 * debug exit becomes. An arch plugin implements `GuestDebug` (x86: `X86GuestDebug`); the slot
 * bookkeeping every arch needs (`HwDebugSlots`) lives here so the limits and errors agree.
 */
import { ConfigError } from '../errors/errors';
import type { CpuStop } from './cpu-stop';

/** Guest-virtual (linear) address, as the guest's own code and a debugger see it. */
export type GuestVirtAddr = bigint;

/** What stopped the vCPU in a debug exit. */
export type DebugStopKind = 'step' | 'hw-breakpoint' | 'watchpoint' | 'sw-breakpoint';

/**
 * A debug exit decoded by the arch plugin: the `CpuStop` a run returns for it. `pc` is the
 * address of the next instruction to execute — for a breakpoint, the breakpoint's own address
 * (the arch corrects what KVM reports when needed); for a step or a watchpoint, the instruction
 * after the one that completed.
 */
export interface DebugStop {
  readonly reason: 'debug';
  readonly kind: DebugStopKind;
  readonly pc: GuestVirtAddr;
  /** The breakpoint or watched address that was hit (absent for a step). */
  readonly address?: GuestVirtAddr;
  /** The hardware slot that hit (hw-breakpoint, watchpoint). */
  readonly slot?: number;
  /** The arch's raw debug status (x86: DR6 as KVM reported it), for what the kind does not say. */
  readonly status: bigint;
}

/**
 * Which accesses a watchpoint traps. Not every arch offers every kind: x86 has no read-only
 * watchpoint (DR7 RW = 10 is I/O), so asking for one there is a ConfigError.
 */
export type WatchKind = 'write' | 'read' | 'read-write';

export interface Watchpoint {
  readonly address: GuestVirtAddr;
  /** Bytes watched; the arch states which lengths and alignments it supports. */
  readonly length: number;
  readonly kind: WatchKind;
}

/** A hardware debug slot's use: an instruction breakpoint or a watchpoint. */
export type HwDebugPoint =
  | { readonly type: 'breakpoint'; readonly address: GuestVirtAddr }
  | ({ readonly type: 'watchpoint' } & Watchpoint);

/** The result of translating a guest-virtual address. */
export interface GuestTranslation {
  readonly gva: GuestVirtAddr;
  /** False when the address is not mapped; `gpa` is then 0. */
  readonly valid: boolean;
  readonly gpa: bigint;
  /**
   * What the page tables allow, when known: an arch's own walk reports it, while x86's
   * KVM_TRANSLATE answers writeable = 1 and usermode = 0 whatever the tables say.
   */
  readonly writable?: boolean;
  readonly user?: boolean;
  /** Who answered: the kernel (KVM_TRANSLATE) or kvmts's own page-table walk. */
  readonly source: 'kvm' | 'walk';
}

/** One step of `stepInstructions`: where the vCPU stands after the step. */
export interface StepRecord {
  readonly pc: GuestVirtAddr;
}

/** What `stepInstructions(n)` did: the pc after each completed step, and why it ended. */
export interface StepTrace {
  /** One entry per instruction executed; fewer than asked when another stop came first. */
  readonly steps: readonly StepRecord[];
  /** The stop that ended the walk: the last step's, or the other stop that interrupted it. */
  readonly stop: CpuStop;
}

/**
 * Guest debugging on one vCPU. Every method needs the vCPU stopped (not inside KVM_RUN); changes
 * take effect at the next run. Addresses are guest-virtual, translated with the vCPU's current
 * paging state.
 */
export interface GuestDebug {
  /** How many hardware slots breakpoints and watchpoints share (x86: 4, DR0–DR3). */
  readonly hwSlotCount: number;
  /** Single-step: every run stops after one instruction with kind 'step'. */
  singleStep: boolean;
  /**
   * Step exactly `n` instructions (stepping over a breakpoint at the current pc), returning the
   * pc after each; single-step is restored to its previous setting afterwards.
   */
  stepInstructions(n: number): StepTrace;
  /** A software breakpoint (the arch's trap instruction written over guest code; the original kept). */
  addSwBreakpoint(address: GuestVirtAddr): void;
  removeSwBreakpoint(address: GuestVirtAddr): void;
  swBreakpoints(): GuestVirtAddr[];
  /** A hardware instruction breakpoint; returns the slot it took. */
  addHwBreakpoint(address: GuestVirtAddr): number;
  removeHwBreakpoint(address: GuestVirtAddr): void;
  /** A hardware watchpoint; returns the slot it took. */
  addWatchpoint(watchpoint: Watchpoint): number;
  removeWatchpoint(watchpoint: Watchpoint): void;
  /** The slots in use, by index (undefined = free). */
  hwSlots(): readonly (HwDebugPoint | undefined)[];
  /** Remove every breakpoint and watchpoint and turn single-step off. */
  clear(): void;
  translate(gva: GuestVirtAddr): GuestTranslation;
  /** Guest memory at a virtual address, showing the original bytes under software breakpoints. */
  readVirtual(gva: GuestVirtAddr, length: number): Uint8Array;
}

/** A CPU that offers guest debugging (x86's X86KvmCPU does). */
export interface GuestDebugCapable {
  /** The vCPU's guest debug, attached on first use (from then on guest breakpoint instructions stop the vCPU). */
  guestDebug(): GuestDebug;
  /** Remove every breakpoint and watchpoint (restoring guest memory) and give the guest its debug exceptions back. */
  detachGuestDebug(): void;
  /** Whether guestDebug() is attached now (read without attaching it; checkpoints ask). */
  readonly guestDebugAttached?: boolean;
}

export function isGuestDebugCapable(cpu: object): cpu is GuestDebugCapable {
  return typeof (cpu as Partial<GuestDebugCapable>).guestDebug === 'function' && typeof (cpu as Partial<GuestDebugCapable>).detachGuestDebug === 'function';
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function describePoint(p: HwDebugPoint): string {
  return p.type === 'breakpoint' ? `breakpoint ${hex(p.address)}` : `${p.kind} watchpoint ${hex(p.address)}/${p.length}`;
}

function samePoint(a: HwDebugPoint, b: HwDebugPoint): boolean {
  if (a.type === 'breakpoint' || b.type === 'breakpoint') return a.type === b.type && a.address === b.address;
  return a.address === b.address && a.length === b.length && a.kind === b.kind;
}

/**
 * The hardware debug slots of one vCPU: breakpoints and watchpoints share them, first free slot
 * first. Claiming a point already held returns its slot (a debugger re-inserting is harmless);
 * claiming beyond the last slot is a ConfigError naming the limit and what holds the slots.
 */
export class HwDebugSlots {
  private readonly slots: (HwDebugPoint | undefined)[];

  constructor(readonly count: number) {
    if (!Number.isInteger(count) || count < 0) throw new ConfigError('guestDebug.hwSlots', `must be a non-negative integer, got ${count}`);
    this.slots = new Array<HwDebugPoint | undefined>(count).fill(undefined);
  }

  /** Take a slot for `point`; returns its index. */
  claim(point: HwDebugPoint): number {
    const held = this.indexOf(point);
    if (held >= 0) return held;
    const free = this.slots.indexOf(undefined);
    if (free < 0) {
      const inUse = this.slots.map((p, i) => `${i}: ${describePoint(p!)}`).join(', ');
      throw new ConfigError(
        point.type === 'breakpoint' ? 'guestDebug.hwBreakpoint' : 'guestDebug.watchpoint',
        `cannot add ${describePoint(point)}: all ${this.count} hardware debug slots are in use (${inUse}); remove one first or use a software breakpoint`,
      );
    }
    this.slots[free] = point;
    return free;
  }

  /** Free the slot holding `point`; a ConfigError when none does. Returns the index freed. */
  release(point: HwDebugPoint): number {
    const i = this.indexOf(point);
    if (i < 0) throw new ConfigError(point.type === 'breakpoint' ? 'guestDebug.hwBreakpoint' : 'guestDebug.watchpoint', `no ${describePoint(point)} is set`);
    this.slots[i] = undefined;
    return i;
  }

  indexOf(point: HwDebugPoint): number {
    return this.slots.findIndex((p) => p !== undefined && samePoint(p, point));
  }

  get(slot: number): HwDebugPoint | undefined {
    return this.slots[slot];
  }

  list(): readonly (HwDebugPoint | undefined)[] {
    return [...this.slots];
  }

  clear(): void {
    this.slots.fill(undefined);
  }
}
