/**
 * CPU switching (gem5's drain → switchOut → takeOverFrom): the contract every CPU model meets —
 * a machine's KVM vCPU (machine.cpu(i), machine/vcpu-switch.ts) and a simulated CPU written in
 * TypeScript (docs/cpu-switching.md walks through an x86 interpreter) — and the checks and the
 * memory hand-over they share, so every model refuses the same misuse with the same error.
 *
 * What moves at a switch: the hardware thread's ThreadContext, and the guest memory it runs
 * against. A CPU model runs against one `SwitchMemory`; a model that takes over from a CPU of
 * another memory (another machine, or another VM) gets that memory's contents copied into its own
 * first, and a model with no memory of its own (a simulated CPU) borrows the source's view,
 * sharing it byte for byte. VM-wide state (in-kernel irqchip, PIT, clock, device models) does not
 * move with a CPU: a whole machine moves through a checkpoint (checkpoint/).
 */
import { ConfigError, LifecycleError } from '../errors/errors';
import type { ThreadContext } from './thread-context';

/**
 * Where a CPU model stands:
 *   active        it owns a hardware thread (it may run, or be drained and idle)
 *   switched-out  it gave its thread up (or never had one): it refuses to run; what it gave up
 *                 waits for the one takeOverFrom that reads it
 *   closed        its machine (or the model) is closed: nothing more
 */
export type SwitchState = 'active' | 'switched-out' | 'closed';

/** Guest-physical memory as a CPU model sees it: byte views of its RAM ranges. `GuestMemory` is one. */
export interface SwitchMemory {
  /** The RAM ranges, ascending; each one `bytes()` can view whole. */
  readonly ranges: readonly { readonly gpa: number; readonly size: number }[];
  /** A view aliasing [gpa, gpa + length), which lies in one range. */
  bytes(gpa: number, length: number): Uint8Array;
}

/** A CPU model that can give its hardware thread to another model and take one over. */
export interface SwitchableCpu<TC extends ThreadContext = ThreadContext> {
  /** For errors: 'vCPU 0 (machine x86_64)', 'interpreter'. */
  readonly name: string;
  /** The ThreadContext's arch: a thread moves only between CPUs of one arch. */
  readonly arch: string;
  readonly switchState: SwitchState;
  /** The guest memory it runs against; undefined for a simulated CPU that has not taken over yet. */
  readonly memory: SwitchMemory | undefined;
  /**
   * Stop at an instruction boundary with every pending I/O access completed; resolves once
   * it is. Its state may then be read; a drained CPU that is not switched out may run again.
   */
  drain(): Promise<void>;
  /**
   * Give the thread up: drain, then hold the complete ThreadContext for the one CPU that takes
   * over. Afterwards the CPU refuses to run (LifecycleError).
   */
  switchOut(): Promise<void>;
  /**
   * Become the CPU running `source`'s thread: `source` must be switched out, of this arch and
   * not handed over yet; this CPU must own no thread it would lose (see claimHandOver).
   */
  takeOverFrom(source: SwitchableCpu<TC>): Promise<void>;
  /**
   * Give what switchOut kept to `taker` — once; a second call is a LifecycleError. Called by a
   * taker's takeOverFrom (through claimHandOver), not by users.
   */
  handOver(taker: { readonly name: string }): HandOver<TC>;
}

/** A thread on its way from one CPU model to another. */
export interface HandOver<TC extends ThreadContext> {
  readonly context: TC;
  readonly memory: SwitchMemory;
  /** The taker failed before running it (the kernel refused the context, say): the thread goes back to its giver. */
  undo(): void;
}

/**
 * The hand-over half every model shares: the context and memory switchOut kept, and who took
 * them. One per CPU model.
 */
export class HandOverSlot<TC extends ThreadContext> {
  private held: { context: TC; memory: SwitchMemory } | undefined;
  private takenBy: string | undefined;

  /** switchOut: keep the thread's context and memory for the next taker. */
  keep(context: TC, memory: SwitchMemory): void {
    this.held = { context, memory };
    this.takenBy = undefined;
  }

  /** What a switched-out CPU still holds (undefined once handed over, or if it never owned a thread). */
  get context(): TC | undefined {
    return this.held?.context;
  }

  give(owner: { readonly name: string; readonly switchState: SwitchState }, taker: { readonly name: string }): HandOver<TC> {
    if (owner.switchState !== 'switched-out') throw new LifecycleError(owner.name, owner.switchState, `hand its thread to ${taker.name} (switch it out first)`);
    if (this.held === undefined) {
      const why = this.takenBy !== undefined ? `its thread was handed to ${this.takenBy} already` : 'it never owned a thread';
      throw new LifecycleError(owner.name, `switched-out (${why})`, `hand its thread to ${taker.name}`);
    }
    const held = this.held;
    this.held = undefined;
    this.takenBy = taker.name;
    return {
      ...held,
      undo: () => {
        this.held = held;
        this.takenBy = undefined;
      },
    };
  }
}

/**
 * The checks of takeOverFrom, in one place for every model: neither CPU closed, not itself,
 * `target` owning no thread it would lose (`targetMayTakeOver` false), one arch, and — for a
 * target that copies the thread's memory into its own (`copyInto`) — RAM at every address of it.
 * Then claims `source`'s hand-over; a caller that fails after this calls its `undo()`.
 */
export function claimHandOver<TC extends ThreadContext>(
  target: SwitchableCpu<TC>,
  source: SwitchableCpu<TC>,
  targetMayTakeOver: boolean,
  copyInto?: SwitchMemory,
): HandOver<TC> {
  const operation = `take over from ${source.name}`;
  if (target.switchState === 'closed') throw new LifecycleError(target.name, 'closed', operation);
  if (source.switchState === 'closed') throw new LifecycleError(source.name, 'closed', `hand its thread to ${target.name}`);
  if (source === target) throw new LifecycleError(target.name, target.switchState, 'take over from itself');
  if (!targetMayTakeOver) throw new LifecycleError(target.name, `${target.switchState} (it owns a thread: switch it out first)`, operation);
  if (source.arch !== target.arch) throw new ConfigError('takeOverFrom', `${target.name} (${target.arch}) cannot take over the thread of ${source.name} (${source.arch}): a thread moves only between CPUs of one arch`);
  if (copyInto !== undefined && source.memory !== undefined && source.memory !== copyInto) requireRoomFor(source.memory, copyInto);
  const handed = source.handOver(target);
  if (handed.context.arch !== target.arch) {
    handed.undo();
    throw new ConfigError('takeOverFrom', `${source.name} handed over a context of arch ${handed.context.arch} to ${target.name} (${target.arch})`);
  }
  return handed;
}

/**
 * Make `to` hold `from`'s contents: every RAM range of `from` is copied to the same addresses of
 * `to` (which must have RAM there). Nothing to do when both are one memory. Returns the bytes
 * copied. The copy is how a thread moves into another VM of the same process; kvmts does not
 * remap one VM's memory into another (a KVM memory slot cannot be shared under a running vCPU of
 * the other VM without both seeing each other's later writes).
 */
export function copyGuestMemory(from: SwitchMemory, to: SwitchMemory): number {
  if (from === to) return 0;
  requireRoomFor(from, to); // all ranges first: no half-copied memory for a layout that does not fit
  let copied = 0;
  for (const r of from.ranges) {
    to.bytes(r.gpa, r.size).set(from.bytes(r.gpa, r.size));
    copied += r.size;
  }
  return copied;
}

/** ConfigError unless `to` has RAM at every address of `from`'s ranges. */
function requireRoomFor(from: SwitchMemory, to: SwitchMemory): void {
  for (const r of from.ranges) {
    const inside = to.ranges.some((t) => r.gpa >= t.gpa && r.gpa + r.size <= t.gpa + t.size);
    if (!inside) {
      throw new ConfigError('takeOverFrom', `the taking CPU's memory has no RAM for 0x${r.gpa.toString(16)}..0x${(r.gpa + r.size - 1).toString(16)} (${r.size} bytes) of the thread's memory: build its machine with the same memory layout`);
    }
  }
}
