/**
 * The x86 guest debugger's own logic against a stand-in vCPU (the nested-x86 tier's emulated CPU
 * raises neither DR7 breakpoints nor the #BP intercept in its guests, so this is where the
 * decoding and the stepping sequences are pinned down; guest-debug.kvm.test.ts runs them for
 * real where the CPU does): KVM_EXIT_DEBUG → DebugStop for each kind, the int3 pc normalised
 * whichever RIP KVM reports, the exact KVM_SET_GUEST_DEBUG images sent, stepping over a
 * breakpoint the vCPU resumes at, and translation falling back to the page walk.
 */
import { ConfigError } from '@kvmts/core';
import { KvmError, type CpuStop } from '@kvmts/core';
import {
  X86GuestDebugger,
  X86Ioctl,
  X86KvmRunLayout,
  createX86Regs,
  createX86Sregs2,
  type DebugMemory,
  type X86DebugTarget,
  type X86Regs,
  type X86Sregs2,
} from '@kvmts/arch-x86';

const POWEROFF: CpuStop = { reason: 'poweroff', status: 0 };
const F = X86KvmRunLayout.fields;

/** What one simulated KVM_RUN does: a debug exit (exception, pc, dr6, the rip KVM leaves) or a power-off. */
type Exit = { exception: number; pc: bigint; dr6: bigint; rip?: bigint } | 'poweroff';

interface Sent {
  control: number;
  dr: bigint[];
  dr7: bigint;
}

class StandInVcpu implements X86DebugTarget {
  readonly run = new DataView(new ArrayBuffer(4096));
  readonly regs: X86Regs = createX86Regs();
  readonly sregs: X86Sregs2 = createX86Sregs2();
  readonly ram = new Uint8Array(0x10000);
  readonly memory: DebugMemory = {
    bytes: (gpa, length) => this.ram.subarray(gpa, gpa + length),
    read: (gpa, length) => this.ram.slice(gpa, gpa + length),
    view: (gpa, length) => new DataView(this.ram.buffer, gpa, length),
  };
  readonly sent: Sent[] = [];
  /** Per simulated KVM_RUN: the control in force and the byte at `watch` when it ran. */
  readonly runs: { control: number; dr7: bigint; byte: number }[] = [];
  exits: Exit[] = [];
  watch = 0;
  translateFails = false;
  debugger!: X86GuestDebugger;
  pushes = 0;

  constructor() {
    this.sregs.cr0 = 1n; // protected mode, no paging: virtual = physical
    this.regs.rip = 0x1000n;
  }
  getRegs(): X86Regs {
    return this.regs;
  }
  setRegs(regs: Partial<X86Regs>): void {
    Object.assign(this.regs, regs);
  }
  getSregs(): X86Sregs2 {
    return this.sregs;
  }
  syncToKvm(): void {
    this.pushes++;
  }
  /** The X86KvmCPU.runLoop shape: the debugger wraps one simulated KVM_RUN. */
  runLoop(maxExits?: number): CpuStop {
    return this.debugger.run(maxExits, () => this.kvmRun());
  }
  private kvmRun(): CpuStop {
    const last = this.sent[this.sent.length - 1];
    this.runs.push({ control: last.control, dr7: last.dr7, byte: this.ram[this.watch] });
    const exit = this.exits.shift();
    if (exit === undefined) throw new Error('stand-in vCPU: no exit scripted');
    if (exit === 'poweroff') return POWEROFF;
    this.run.setUint32(F['debug.arch.exception'].offset, exit.exception, true);
    this.run.setBigUint64(F['debug.arch.pc'].offset, exit.pc, true);
    this.run.setBigUint64(F['debug.arch.dr6'].offset, exit.dr6, true);
    this.regs.rip = exit.rip ?? exit.pc;
    return this.debugger.decodeExit();
  }
  vcpuIoctl(request: number, op: string, arg: Uint8Array): number {
    const v = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    if (request === X86Ioctl.SET_GUEST_DEBUG) {
      this.sent.push({ control: v.getUint32(0, true), dr: [0, 1, 2, 3].map((i) => v.getBigUint64(8 + 8 * i, true)), dr7: v.getBigUint64(8 + 56, true) });
      return 0;
    }
    if (request === X86Ioctl.TRANSLATE) {
      if (this.translateFails) throw new KvmError(op, 25, 'ENOTTY');
      v.setBigUint64(8, v.getBigUint64(0, true), true);
      v.setUint8(16, 1);
      return 0;
    }
    throw new Error(`stand-in vCPU: unexpected ioctl ${op}`);
  }
}

const ENABLE = 0x1, SINGLESTEP = 0x2, SW_BP = 0x10000, HW_BP = 0x20000, BLOCKIRQ = 0x100000;
const DR6_IDLE = 0xffff0ff0n, DR6_BS = 0x4000n;

function attach(supported = 0): StandInVcpu {
  const vcpu = new StandInVcpu();
  vcpu.debugger = new X86GuestDebugger(vcpu, vcpu.memory, supported);
  return vcpu;
}

describe('X86GuestDebugger on a stand-in vCPU', () => {
  it('attaching sends ENABLE | USE_SW_BP, after pushing the registers; single-step adds SINGLESTEP (and BLOCKIRQ where KVM offers it)', () => {
    const v = attach(0x1f_0003);
    expect(v.sent).toEqual([{ control: ENABLE | SW_BP, dr: [0n, 0n, 0n, 0n], dr7: 0n }]);
    expect(v.pushes).toBe(1);
    v.exits = [{ exception: 1, pc: 0x1003n, dr6: DR6_IDLE | DR6_BS }];
    const trace = v.debugger.stepInstructions(1);
    expect(trace.steps).toEqual([{ pc: 0x1003n }]);
    expect(v.runs[0].control).toBe(ENABLE | SW_BP | SINGLESTEP | BLOCKIRQ);
    expect(v.debugger.singleStep).toBe(false);
    const noBlock = attach(0);
    noBlock.exits = [{ exception: 1, pc: 0x1003n, dr6: DR6_IDLE | DR6_BS }];
    noBlock.debugger.stepInstructions(1);
    expect(noBlock.runs[0].control).toBe(ENABLE | SW_BP | SINGLESTEP);
  });

  it('hardware slots go out as DR0–DR3 and DR7 with USE_HW_BP; DR6 names the slot that hit', () => {
    const v = attach();
    v.debugger.addHwBreakpoint(0x2000n);
    v.debugger.addWatchpoint({ address: 0x3008n, length: 8, kind: 'write' });
    v.exits = [{ exception: 1, pc: 0x1010n, dr6: DR6_IDLE | 0x2n }];
    expect(v.runLoop()).toEqual({ reason: 'debug', kind: 'watchpoint', pc: 0x1010n, address: 0x3008n, slot: 1, status: DR6_IDLE | 0x2n });
    expect(v.sent[v.sent.length - 1]).toEqual({ control: ENABLE | SW_BP | HW_BP, dr: [0x2000n, 0x3008n, 0n, 0n], dr7: 0x90_060an });
    v.regs.rip = 0x1ff0n;
    v.exits = [{ exception: 1, pc: 0x2000n, dr6: DR6_IDLE | 0x1n }];
    expect(v.runLoop()).toEqual({ reason: 'debug', kind: 'hw-breakpoint', pc: 0x2000n, address: 0x2000n, slot: 0, status: DR6_IDLE | 0x1n });
  });

  it('resuming at a hardware breakpoint steps once with that slot off, then continues with it on', () => {
    const v = attach();
    v.debugger.addHwBreakpoint(0x1000n); // the vCPU stands on it
    v.debugger.addWatchpoint({ address: 0x3000n, length: 4, kind: 'read-write' });
    v.exits = [{ exception: 1, pc: 0x1002n, dr6: DR6_IDLE | DR6_BS }, 'poweroff'];
    expect(v.runLoop()).toEqual(POWEROFF);
    expect(v.runs).toEqual([
      { control: ENABLE | SW_BP | HW_BP | SINGLESTEP, dr7: 0x00f0_0608n, byte: 0 }, // slot 0 off, slot 1 on
      { control: ENABLE | SW_BP | HW_BP, dr7: 0x00f0_060an, byte: 0 },
    ]);
  });

  it('resuming at a software breakpoint steps with the original byte back, re-inserts the int3, then continues', () => {
    const v = attach();
    v.ram[0x1000] = 0x48;
    v.watch = 0x1000;
    v.debugger.addSwBreakpoint(0x1000n);
    expect(v.ram[0x1000]).toBe(0xcc);
    expect(v.debugger.readVirtual(0xffen, 4)).toEqual(Uint8Array.from([0, 0, 0x48, 0]));
    v.exits = [{ exception: 1, pc: 0x1003n, dr6: DR6_IDLE | DR6_BS }, 'poweroff'];
    expect(v.runLoop()).toEqual(POWEROFF);
    expect(v.runs.map((r) => [r.control, r.byte])).toEqual([
      [ENABLE | SW_BP | SINGLESTEP, 0x48],
      [ENABLE | SW_BP, 0xcc],
    ]);
    // Asked to single-step, the step over the breakpoint is the step.
    v.regs.rip = 0x1000n;
    v.debugger.singleStep = true;
    v.exits = [{ exception: 1, pc: 0x1003n, dr6: DR6_IDLE | DR6_BS }];
    expect(v.runLoop()).toEqual({ reason: 'debug', kind: 'step', pc: 0x1003n, status: DR6_IDLE | DR6_BS });
    expect(v.ram[0x1000]).toBe(0xcc);
    v.debugger.removeSwBreakpoint(0x1000n);
    expect(v.ram[0x1000]).toBe(0x48);
  });

  it('an int3 stop is at the int3 whether KVM reports RIP after it (rewound) or at it (left alone)', () => {
    const after = attach();
    after.ram[0x1000] = 0x90;
    after.debugger.addSwBreakpoint(0x1000n);
    after.regs.rip = 0x0ff0n;
    after.exits = [{ exception: 3, pc: 0x1001n, dr6: DR6_IDLE }];
    expect(after.runLoop()).toEqual({ reason: 'debug', kind: 'sw-breakpoint', pc: 0x1000n, address: 0x1000n, status: DR6_IDLE });
    expect(after.regs.rip).toBe(0x1000n);

    const at = attach();
    at.ram[0x2000] = 0xcc; // the guest's own int3
    at.ram[0x1fff] = 0xcc; // and another before it: "at" must win
    at.regs.rip = 0x1ff0n;
    at.exits = [{ exception: 3, pc: 0x2000n, dr6: DR6_IDLE }];
    expect(at.runLoop()).toMatchObject({ kind: 'sw-breakpoint', pc: 0x2000n });
    expect(at.regs.rip).toBe(0x2000n);
  });

  it('stepInstructions records each pc and stops early at another stop; a bad count is a ConfigError', () => {
    const v = attach();
    v.exits = [
      { exception: 1, pc: 0x1002n, dr6: DR6_IDLE | DR6_BS },
      { exception: 1, pc: 0x1005n, dr6: DR6_IDLE | DR6_BS },
      'poweroff',
    ];
    const trace = v.debugger.stepInstructions(5);
    expect(trace).toEqual({ steps: [{ pc: 0x1002n }, { pc: 0x1005n }], stop: POWEROFF });
    expect(() => v.debugger.stepInstructions(-1)).toThrow('guestDebug.stepInstructions: the number of instructions must be a non-negative integer, got -1');
    expect(v.debugger.stepInstructions(0)).toEqual({ steps: [], stop: { reason: 'debug' } });
  });

  it('translate asks KVM first and falls back to the page walk when KVM_TRANSLATE fails', () => {
    const v = attach();
    expect(v.debugger.translate(0x1234n)).toEqual({ gva: 0x1234n, valid: true, gpa: 0x1234n, source: 'kvm', writable: true, user: true });
    v.translateFails = true;
    expect(v.debugger.translate(0x1234n)).toEqual({ gva: 0x1234n, valid: true, gpa: 0x1234n, source: 'walk', writable: true, user: true });
  });

  it('unknown exceptions stay the plain debug stop; removing what is not set is a ConfigError', () => {
    const v = attach();
    v.exits = [{ exception: 6, pc: 0x1000n, dr6: DR6_IDLE }];
    expect(v.runLoop()).toEqual({ reason: 'debug' });
    expect(() => v.debugger.removeSwBreakpoint(0x1000n)).toThrow('guestDebug.swBreakpoint: no software breakpoint is set at 0x1000');
    expect(() => v.debugger.removeHwBreakpoint(0x1000n)).toThrow('guestDebug.hwBreakpoint: no breakpoint 0x1000 is set');
  });

  it('an address that is not a 64-bit bigint is a ConfigError naming the call (a JS caller passing a number)', () => {
    const v = attach();
    const asAny = v.debugger as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => asAny.addSwBreakpoint(0x8100)).toThrow('guestDebug.swBreakpoint: expected a 64-bit address as a bigint (e.g. 0x8000n), got 33024');
    expect(() => asAny.addHwBreakpoint(-1n)).toThrow(/guestDebug\.hwBreakpoint: expected a 64-bit address as a bigint/);
    expect(() => asAny.addWatchpoint({ address: 8, length: 8, kind: 'write' })).toThrow(/guestDebug\.watchpoint\.address: expected a 64-bit address/);
    expect(() => asAny.translate('0x1000')).toThrow(/guestDebug\.translate: expected a 64-bit address as a bigint/);
    expect(() => asAny.readVirtual(2n ** 64n, 1)).toThrow(/guestDebug\.readVirtual: expected a 64-bit address/);
    expect(() => asAny.addSwBreakpoint(0x8100)).toThrow(ConfigError);
  });

  it('detach restores memory and sends a zero control', () => {
    const v = attach();
    v.ram[0x1000] = 0x55;
    v.debugger.addSwBreakpoint(0x1000n);
    v.debugger.addHwBreakpoint(0x2000n);
    v.debugger.detach();
    expect(v.ram[0x1000]).toBe(0x55);
    expect(v.sent[v.sent.length - 1]).toEqual({ control: 0, dr: [0n, 0n, 0n, 0n], dr7: 0n });
    expect(v.debugger.hwSlots()).toEqual([undefined, undefined, undefined, undefined]);
  });
});
