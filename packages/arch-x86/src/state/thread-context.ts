import { ConfigError, assertSameShape, type ThreadContext } from '@kvmts/core';
import { createX86Regs, type X86Regs } from '../abi/regs-codec';
import { createX86Sregs, type X86Sregs } from '../abi/sregs-codec';

/** The plain-data form of an X86ThreadContext (what toJSON returns and fromData accepts). */
export interface X86ThreadContextData {
  readonly arch: 'x86_64';
  readonly regs: X86Regs;
  readonly sregs: X86Sregs;
}

/**
 * x86-64 architectural state of one hardware thread, as kvmts moves it between CPU models.
 * So far: general and special registers. FPU/XSAVE, MSRs, debug registers, events and LAPIC
 * join with the full-state work.
 */
export class X86ThreadContext implements ThreadContext {
  readonly arch = 'x86_64';
  regs: X86Regs = createX86Regs();
  sregs: X86Sregs = createX86Sregs();

  toJSON(): X86ThreadContextData {
    return { arch: this.arch, regs: { ...this.regs }, sregs: structuredClone(this.sregs) };
  }

  copyFrom(other: X86ThreadContext): void {
    this.regs = { ...other.regs };
    this.sregs = structuredClone(other.sregs);
  }

  /**
   * A context from its plain-data form, checked field by field against a fresh context's shape
   * (so a renamed or missing register is a ConfigError naming it, not a silently zero field).
   */
  static fromData(data: unknown): X86ThreadContext {
    const tc = new X86ThreadContext();
    assertSameShape(tc.toJSON(), data, 'threadContext');
    const arch = (data as { arch: string }).arch;
    if (arch !== tc.arch) throw new ConfigError('threadContext.arch', `is '${arch}': an ${tc.arch} CPU cannot take it`);
    const d = data as X86ThreadContextData;
    tc.regs = { ...d.regs };
    tc.sregs = structuredClone(d.sregs);
    return tc;
  }
}
