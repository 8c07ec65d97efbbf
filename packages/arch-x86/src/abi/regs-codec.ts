/**
 * `struct kvm_regs` ⇄ X86Regs. Decodes into / encodes from a caller-provided DataView at an
 * optional byte offset (e.g. kvm_run.s.regs), so the run loop can reuse one object and one
 * buffer; offsets come from X86RegsLayout, the order from X86_GPR_NAMES.
 */
import { X86RegsLayout } from './layouts';
import { X86_GPR_NAMES, type X86GprName } from './registers';

export type X86Regs = Record<X86GprName, bigint>;

const OFFSETS: readonly number[] = X86_GPR_NAMES.map((n) => X86RegsLayout.fields[n].offset);

/** All registers zero except rflags bit 1, which is reserved-as-one on x86. */
export function createX86Regs(): X86Regs {
  const r = {} as X86Regs;
  for (const n of X86_GPR_NAMES) r[n] = 0n;
  r.rflags = 0x2n;
  return r;
}

export function decodeRegs(view: DataView, out: X86Regs = {} as X86Regs, at = 0): X86Regs {
  for (let i = 0; i < X86_GPR_NAMES.length; i++) {
    out[X86_GPR_NAMES[i]] = view.getBigUint64(at + OFFSETS[i], true);
  }
  return out;
}

export function encodeRegs(regs: Readonly<X86Regs>, view: DataView, at = 0): void {
  for (let i = 0; i < X86_GPR_NAMES.length; i++) {
    view.setBigUint64(at + OFFSETS[i], BigInt.asUintN(64, regs[X86_GPR_NAMES[i]]), true);
  }
}
