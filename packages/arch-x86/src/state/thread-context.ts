import type { ThreadContext } from '@kvmts/core';
import { createX86Regs, type X86Regs } from '../abi/regs-codec';
import { createX86Sregs, type X86Sregs } from '../abi/sregs-codec';

/**
 * x86-64 architectural state of one hardware thread, as kvmts moves it between CPU models.
 * This scope: general and special registers. FPU/XSAVE, MSRs, debug registers, events
 * and LAPIC join with the state-sync issue.
 */
export class X86ThreadContext implements ThreadContext {
  readonly arch = 'x86_64';
  regs: X86Regs = createX86Regs();
  sregs: X86Sregs = createX86Sregs();

  toJSON(): { arch: string; regs: X86Regs; sregs: X86Sregs } {
    return { arch: this.arch, regs: { ...this.regs }, sregs: structuredClone(this.sregs) };
  }

  copyFrom(other: X86ThreadContext): void {
    this.regs = { ...other.regs };
    this.sregs = structuredClone(other.sregs);
  }
}
