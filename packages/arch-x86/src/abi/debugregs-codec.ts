/** `struct kvm_debugregs` ⇄ X86DebugRegs; the reserved words are written as zero. */
import { X86DebugregsLayout } from './layouts';

export const X86_DR_ADDRESS_COUNT = 4;

export interface X86DebugRegs {
  /** DR0–DR3: breakpoint addresses. */
  db: bigint[];
  dr6: bigint;
  dr7: bigint;
  /** kvm_debugregs.flags (0 in every kernel so far; kept so the struct round-trips). */
  flags: bigint;
}

const D = X86DebugregsLayout.fields;

export function createX86DebugRegs(): X86DebugRegs {
  return { db: new Array<bigint>(X86_DR_ADDRESS_COUNT).fill(0n), dr6: 0n, dr7: 0n, flags: 0n };
}

export function decodeDebugRegs(view: DataView, out: X86DebugRegs = createX86DebugRegs()): X86DebugRegs {
  for (let i = 0; i < X86_DR_ADDRESS_COUNT; i++) out.db[i] = view.getBigUint64(D.db.offset + i * D.db.stride, true);
  out.dr6 = view.getBigUint64(D.dr6.offset, true);
  out.dr7 = view.getBigUint64(D.dr7.offset, true);
  out.flags = view.getBigUint64(D.flags.offset, true);
  return out;
}

export function encodeDebugRegs(regs: Readonly<X86DebugRegs>, view: DataView): void {
  for (let i = 0; i < X86_DR_ADDRESS_COUNT; i++) view.setBigUint64(D.db.offset + i * D.db.stride, BigInt.asUintN(64, regs.db[i]), true);
  view.setBigUint64(D.dr6.offset, BigInt.asUintN(64, regs.dr6), true);
  view.setBigUint64(D.dr7.offset, BigInt.asUintN(64, regs.dr7), true);
  view.setBigUint64(D.flags.offset, BigInt.asUintN(64, regs.flags), true);
  for (let i = 0; i < D.reserved.size; i += 8) view.setBigUint64(D.reserved.offset + i, 0n, true);
}
