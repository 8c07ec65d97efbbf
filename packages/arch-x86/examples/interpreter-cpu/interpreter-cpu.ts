/**
 * A tiny x86-64 interpreter CPU: the worked example of CPU switching (docs/cpu-switching.md).
 * It implements core's `SwitchableCpu`, so it takes a hardware thread over from a KVM vCPU
 * (`machine.cpu(0)`), runs guest instructions in TypeScript against the same guest memory, and
 * hands the thread back — gem5's pattern of fast-forwarding on KVM and switching to a
 * simulated CPU for a region of interest.
 *
 * What it is: 64-bit mode only, the instructions decode.ts knows, no exceptions or interrupts
 * (an instruction it cannot run is an InterpreterError before it changes anything), no
 * protection checks on memory accesses. Port output goes to a `PortIo` the user supplies.
 * Everything of the ThreadContext it does not model (segments, control registers, FPU/SSE,
 * MSRs, LAPIC, …) it carries unchanged, so the next CPU gets it back exactly.
 */
import { ConfigError, HandOverSlot, KvmtsError, LifecycleError, claimHandOver, type HandOver, type SwitchMemory, type SwitchState, type SwitchableCpu, type ThreadContext } from '@kvmts/core';
import { X86ThreadContext, walkPageTables, type PagingRegisters, type X86GprName } from '@kvmts/arch-x86';
import { UnsupportedInstruction, decode, type Instruction, type Operand } from './decode';
import { alu, conditionHolds, type AluOp } from './alu';

/** Register names by their encoding number (decode.ts's Gpr). */
const GPR_BY_NUMBER: readonly X86GprName[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const RCX = 1;
const RDX = 2;
const RAX = 0;
const M64 = (1n << 64n) - 1n;
const MASK: Record<32 | 64, bigint> = { 32: (1n << 32n) - 1n, 64: M64 };
const PAGE = 4096n;
const MAX_INSTRUCTION_BYTES = 15;
const EFER_LMA = 1n << 10n;

/** Where `out` goes. Return true to stop the run after this instruction (a power-off, say). */
export interface PortIo {
  out(port: number, size: 1 | 4, value: number): boolean;
}

/** How a run() ended; `executed` counts the instructions it completed. */
export type InterpreterStop =
  | { readonly reason: 'instructions'; readonly executed: number }
  | { readonly reason: 'halt'; readonly executed: number }
  | { readonly reason: 'io'; readonly port: number; readonly value: number; readonly executed: number };

/** The guest did something the interpreter does not implement; the thread's state is as before that instruction. */
export class InterpreterError extends KvmtsError {
  constructor(
    readonly rip: bigint,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`interpreter at rip 0x${rip.toString(16)}: ${message}`, options);
  }
}

export interface InterpreterOptions {
  /** For errors (default 'interpreter'). */
  readonly name?: string;
  readonly io?: PortIo;
}

export class X86InterpreterCpu implements SwitchableCpu {
  readonly arch = 'x86_64';
  readonly name: string;
  /** Instructions completed over the CPU's life. */
  instructions = 0;
  /** A new interpreter owns no thread: like gem5's switched_out CPUs, it waits to take one over. */
  private state: SwitchState = 'switched-out';
  private context: X86ThreadContext | undefined;
  private guestMemory: SwitchMemory | undefined;
  private readonly slot = new HandOverSlot<X86ThreadContext>();
  private readonly io: PortIo | undefined;
  /** Virtual page → physical page, filled during one run() (the guests it runs never edit their page tables). */
  private readonly tlb = new Map<bigint, number>();

  constructor(options: InterpreterOptions = {}) {
    this.name = options.name ?? 'interpreter';
    this.io = options.io;
  }

  get switchState(): SwitchState {
    return this.state;
  }

  /** The memory it borrowed from the CPU it took over from (shared, not copied). */
  get memory(): SwitchMemory | undefined {
    return this.guestMemory;
  }

  /** The thread it runs (while active): read or edit registers between runs. */
  threadContext(): X86ThreadContext {
    if (this.state !== 'active' || this.context === undefined) throw new LifecycleError(this.name, this.state, 'read the thread context');
    return this.context;
  }

  /** It stops only between instructions and has no I/O in flight: drained as soon as asked. */
  async drain(): Promise<void> {
    if (this.state === 'closed') throw new LifecycleError(this.name, 'closed', 'drain');
  }

  async switchOut(): Promise<void> {
    if (this.state !== 'active' || this.context === undefined || this.guestMemory === undefined) throw new LifecycleError(this.name, this.state, 'switch out');
    await this.drain();
    this.slot.keep(this.context, this.guestMemory);
    this.context = undefined;
    this.state = 'switched-out';
  }

  handOver(taker: { readonly name: string }): HandOver<X86ThreadContext> {
    return this.slot.give(this, taker);
  }

  /**
   * Take `source`'s thread: its context — held as it is when it is an X86ThreadContext (nobody
   * else has it now), else rebuilt from its plain data, every field checked — and its memory
   * (shared, not copied).
   */
  async takeOverFrom(source: SwitchableCpu): Promise<void> {
    const handed = claimHandOver<ThreadContext>(this, source, this.state === 'switched-out');
    try {
      this.context = handed.context instanceof X86ThreadContext ? handed.context : X86ThreadContext.fromData(handed.context.toJSON());
    } catch (e) {
      handed.undo(); // not an x86 context after all: the thread stays with its giver
      throw e;
    }
    this.guestMemory = handed.memory;
    this.state = 'active';
  }

  close(): void {
    this.state = 'closed';
    this.context = undefined;
    this.guestMemory = undefined;
  }

  /** Run up to `maxInstructions` instructions; stops early at hlt or when the PortIo asks. */
  run(maxInstructions: number): InterpreterStop {
    if (!Number.isSafeInteger(maxInstructions) || maxInstructions < 0) throw new ConfigError('run.maxInstructions', `must be a whole number ≥ 0, got ${String(maxInstructions)}`);
    const tc = this.threadContext();
    const regs = tc.regs;
    const s = tc.sregs;
    if (s.cs.l !== 1 || (s.efer & EFER_LMA) === 0n) throw new InterpreterError(regs.rip, 'runs 64-bit code only (CS.L = 1 with EFER.LMA)');
    const cpu = new RegisterFile(GPR_BY_NUMBER.map((n) => regs[n]), regs.rip, regs.rflags, this.addressing({ cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer }));
    let executed = 0;
    try {
      while (executed < maxInstructions) {
        const outcome = this.step(cpu);
        executed++;
        if (outcome === 'halt') return { reason: 'halt', executed };
        if (outcome !== undefined) return { reason: 'io', port: outcome.port, value: outcome.value, executed };
      }
      return { reason: 'instructions', executed };
    } finally {
      // Whatever ended the run, the context holds the state after the last completed instruction.
      GPR_BY_NUMBER.forEach((n, i) => (regs[n] = cpu.gpr[i]));
      regs.rip = cpu.rip;
      regs.rflags = cpu.rflags;
      this.instructions += executed;
      this.tlb.clear();
    }
  }

  /** One instruction: all of it or, when it throws, none of it. */
  private step(m: RegisterFile): 'halt' | { port: number; value: number } | undefined {
    const rip = m.rip;
    let insn: Instruction;
    try {
      insn = decode(m.fetch(rip));
    } catch (e) {
      if (e instanceof UnsupportedInstruction) throw new InterpreterError(rip, e.message, { cause: e });
      throw e;
    }
    const next = (rip + BigInt(insn.length)) & M64;
    // rip moves only once the instruction has done everything that can fail.
    const outcome = this.execute(m, insn, next);
    m.rip = outcome.rip;
    return outcome.stop;
  }

  private execute(m: RegisterFile, insn: Instruction, next: bigint): { rip: bigint; stop?: 'halt' | { port: number; value: number } } {
    const rip = m.rip;
    const taken = (rel: number) => ({ rip: (next + BigInt(rel)) & M64 });
    const done = { rip: next };
    switch (insn.op) {
      case 'mov':
        m.store(insn.dst, insn.width, m.load(insn.src, insn.width, next), next);
        return done;
      case 'cmp':
        m.setFlags(alu('sub', insn.width, m.load(insn.dst, insn.width, next), m.load(insn.src, insn.width, next)));
        return done;
      case 'add':
      case 'sub':
      case 'and':
      case 'or':
      case 'xor':
      case 'inc':
      case 'dec': {
        const b = 'src' in insn ? m.load(insn.src, insn.width, next) : 0n;
        const r = alu(insn.op as AluOp, insn.width, m.load(insn.dst, insn.width, next), b);
        m.store(insn.dst, insn.width, r.value, next);
        m.setFlags(r); // after the store: a store that faults leaves the flags too
        return done;
      }
      case 'jcc':
        return conditionHolds(insn.cond, m.rflags) ? taken(insn.rel) : done;
      case 'jmp':
        return taken(insn.rel);
      case 'loop':
        m.gpr[RCX] = (m.gpr[RCX] - 1n) & M64;
        return m.gpr[RCX] !== 0n ? taken(insn.rel) : done;
      case 'out': {
        const port = insn.port === 'dx' ? Number(m.gpr[RDX] & 0xffffn) : insn.port;
        const value = Number(m.gpr[RAX] & (insn.size === 1 ? 0xffn : 0xffff_ffffn));
        if (this.io === undefined) throw new InterpreterError(rip, `out to port 0x${port.toString(16)} and no PortIo was given`);
        return this.io.out(port, insn.size, value) ? { ...done, stop: { port, value } } : done;
      }
      case 'hlt':
        return { ...done, stop: 'halt' };
      case 'nop':
        return done;
    }
  }

  /** Guest-virtual → guest-physical through the thread's page tables (arch-x86's walkPageTables), one walk per page per run. */
  private addressing(paging: PagingRegisters): Addressing {
    const memory = this.guestMemory!;
    const readPhys = (gpa: bigint, size: 4 | 8): bigint | undefined => {
      try {
        const v = view(memory.bytes(Number(gpa), size));
        return size === 8 ? v.getBigUint64(0, true) : BigInt(v.getUint32(0, true));
      } catch (e) {
        if (e instanceof ConfigError) return undefined; // no RAM there: the walk reports it
        throw e; // e.g. the memory's machine was closed
      }
    };
    return {
      bytes: (gva, length, rip) => {
        const page = gva / PAGE;
        let base = this.tlb.get(page);
        if (base === undefined) {
          const walk = walkPageTables(page * PAGE, paging, readPhys);
          if (!walk.valid) throw new InterpreterError(rip, `page fault at 0x${gva.toString(16)}: ${walk.reason} (the interpreter delivers no exceptions)`);
          base = Number(walk.gpa);
          this.tlb.set(page, base);
        }
        const gpa = base + Number(gva % PAGE);
        try {
          return memory.bytes(gpa, length);
        } catch (e) {
          if (e instanceof ConfigError) throw new InterpreterError(rip, `0x${gva.toString(16)} maps to 0x${gpa.toString(16)}, which is not RAM`, { cause: e });
          throw e;
        }
      },
    };
  }
}

/** Views of guest memory by virtual address; `length` never crosses a page (RegisterFile splits accesses). */
interface Addressing {
  bytes(gva: bigint, length: number, rip: bigint): Uint8Array;
}

/** The registers one run() works on (copied out of the context and back), and operand access through them. */
class RegisterFile {
  constructor(
    readonly gpr: bigint[],
    public rip: bigint,
    public rflags: bigint,
    private readonly addressing: Addressing,
  ) {}

  setFlags(r: { flags: bigint; defined: bigint }): void {
    this.rflags = (this.rflags & ~r.defined) | r.flags;
  }

  /** Up to 15 code bytes at `rip` (fewer only where RAM ends). */
  fetch(rip: bigint): Uint8Array {
    const first = Math.min(MAX_INSTRUCTION_BYTES, Number(PAGE - (rip % PAGE)));
    const head = this.addressing.bytes(rip, first, rip);
    if (first === MAX_INSTRUCTION_BYTES) return head;
    const out = new Uint8Array(MAX_INSTRUCTION_BYTES);
    out.set(head);
    out.set(this.addressing.bytes((rip + BigInt(first)) & M64, MAX_INSTRUCTION_BYTES - first, rip), first);
    return out;
  }

  load(o: Operand, width: 32 | 64, next: bigint): bigint {
    if (o.kind === 'reg') return this.gpr[o.reg] & MASK[width];
    if (o.kind === 'imm') return o.value & MASK[width];
    const bytes = this.access(this.address(o, next), width / 8);
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }

  /** A 32-bit register write zero-extends to 64 bits, as in hardware. */
  store(o: Operand, width: 32 | 64, value: bigint, next: bigint): void {
    if (o.kind === 'reg') {
      this.gpr[o.reg] = value & MASK[width];
      return;
    }
    if (o.kind === 'imm') throw new InterpreterError(this.rip, 'an immediate is not a destination');
    const bytes = this.access(this.address(o, next), width / 8);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }

  private address(o: Extract<Operand, { kind: 'mem' }>, next: bigint): bigint {
    const base = o.base === 'rip' ? next : o.base === undefined ? 0n : this.gpr[o.base];
    const index = o.index === undefined ? 0n : this.gpr[o.index] * BigInt(o.scale);
    return (base + index + BigInt(o.disp)) & M64;
  }

  /** The bytes of an access: one view when it stays in its page, else a gather/scatter proxy of both pages. */
  private access(gva: bigint, length: number): ByteCells {
    const inPage = Number(PAGE - (gva % PAGE));
    if (length <= inPage) return this.addressing.bytes(gva, length, this.rip);
    const a = this.addressing.bytes(gva, inPage, this.rip);
    const b = this.addressing.bytes((gva + BigInt(inPage)) & M64, length - inPage, this.rip);
    return new SplitCells(a, b);
  }
}

/** Indexed byte cells: a Uint8Array, or two of them back to back (an access that crosses a page). */
type ByteCells = { readonly length: number; [i: number]: number };

class SplitCells implements ByteCells {
  [i: number]: number;
  readonly length: number;
  constructor(a: Uint8Array, b: Uint8Array) {
    this.length = a.length + b.length;
    for (let i = 0; i < this.length; i++) {
      Object.defineProperty(this, i, { get: () => (i < a.length ? a[i] : b[i - a.length]), set: (v: number) => (i < a.length ? (a[i] = v) : (b[i - a.length] = v)) });
    }
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
