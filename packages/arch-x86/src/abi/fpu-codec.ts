/**
 * `struct kvm_fpu` ⇄ X86Fpu, and the FXSAVE legacy region (the first 512 bytes of an XSAVE
 * image) ⇄ X86Fxsave, the same fields plus MXCSR_MASK. KVM builds kvm_fpu from that region
 * field by field, so the two convert into each other without loss (MXCSR_MASK aside, which is
 * the CPU's, not the guest's). x87 and XMM registers are 128-bit slots kept whole, so an 80-bit
 * ST(i) round-trips bit for bit (gem5 passes them through a double and loses 16 bits).
 */
import { X86FpuLayout } from './layouts';
import { getU128, setU128 } from '../isa/u128';
import { FXSAVE } from '../isa/xsave';

export const X86_FPR_COUNT = 8;
export const X86_XMM_COUNT = 16;

export interface X86Fpu {
  /** R0–R7 (FXSAVE order), one 128-bit slot each; the 80-bit register is bits 79:0. */
  fpr: bigint[];
  fcw: number;
  fsw: number;
  /** Abridged tag byte (FXSAVE): bit i set when R(i) holds a value. */
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  xmm: bigint[];
  mxcsr: number;
}

export interface X86Fxsave extends X86Fpu {
  /** Which MXCSR bits the CPU supports (written by FXSAVE/XSAVE, ignored on restore). */
  mxcsrMask: number;
}

export function createX86Fpu(): X86Fpu {
  return {
    fpr: new Array<bigint>(X86_FPR_COUNT).fill(0n),
    fcw: 0,
    fsw: 0,
    ftwx: 0,
    lastOpcode: 0,
    lastIp: 0n,
    lastDp: 0n,
    xmm: new Array<bigint>(X86_XMM_COUNT).fill(0n),
    mxcsr: 0,
  };
}

const F = X86FpuLayout.fields;

export function decodeFpu(view: DataView, out: X86Fpu = createX86Fpu(), at = 0): X86Fpu {
  for (let i = 0; i < X86_FPR_COUNT; i++) out.fpr[i] = getU128(view, at + F.fpr.offset + i * F.fpr.stride);
  out.fcw = view.getUint16(at + F.fcw.offset, true);
  out.fsw = view.getUint16(at + F.fsw.offset, true);
  out.ftwx = view.getUint8(at + F.ftwx.offset);
  out.lastOpcode = view.getUint16(at + F.last_opcode.offset, true);
  out.lastIp = view.getBigUint64(at + F.last_ip.offset, true);
  out.lastDp = view.getBigUint64(at + F.last_dp.offset, true);
  for (let i = 0; i < X86_XMM_COUNT; i++) out.xmm[i] = getU128(view, at + F.xmm.offset + i * F.xmm.stride);
  out.mxcsr = view.getUint32(at + F.mxcsr.offset, true);
  return out;
}

/** Encodes every member; the padding bytes are written as zero. */
export function encodeFpu(fpu: Readonly<X86Fpu>, view: DataView, at = 0): void {
  for (let i = 0; i < X86_FPR_COUNT; i++) setU128(view, at + F.fpr.offset + i * F.fpr.stride, fpu.fpr[i]);
  view.setUint16(at + F.fcw.offset, fpu.fcw, true);
  view.setUint16(at + F.fsw.offset, fpu.fsw, true);
  view.setUint8(at + F.ftwx.offset, fpu.ftwx);
  view.setUint8(at + F.pad1.offset, 0);
  view.setUint16(at + F.last_opcode.offset, fpu.lastOpcode, true);
  view.setBigUint64(at + F.last_ip.offset, BigInt.asUintN(64, fpu.lastIp), true);
  view.setBigUint64(at + F.last_dp.offset, BigInt.asUintN(64, fpu.lastDp), true);
  for (let i = 0; i < X86_XMM_COUNT; i++) setU128(view, at + F.xmm.offset + i * F.xmm.stride, fpu.xmm[i]);
  view.setUint32(at + F.mxcsr.offset, fpu.mxcsr >>> 0, true);
  view.setUint32(at + F.pad2.offset, 0, true);
}

/** The FXSAVE legacy region of an XSAVE image at `at`. */
export function decodeFxsave(view: DataView, at = 0): X86Fxsave {
  const out = createX86Fpu() as X86Fxsave;
  for (let i = 0; i < X86_FPR_COUNT; i++) out.fpr[i] = getU128(view, at + FXSAVE.st + i * 16);
  out.fcw = view.getUint16(at + FXSAVE.fcw, true);
  out.fsw = view.getUint16(at + FXSAVE.fsw, true);
  out.ftwx = view.getUint8(at + FXSAVE.ftw);
  out.lastOpcode = view.getUint16(at + FXSAVE.fop, true);
  out.lastIp = view.getBigUint64(at + FXSAVE.fip, true);
  out.lastDp = view.getBigUint64(at + FXSAVE.fdp, true);
  for (let i = 0; i < X86_XMM_COUNT; i++) out.xmm[i] = getU128(view, at + FXSAVE.xmm + i * 16);
  out.mxcsr = view.getUint32(at + FXSAVE.mxcsr, true);
  out.mxcsrMask = view.getUint32(at + FXSAVE.mxcsrMask, true);
  return out;
}

/**
 * Writes the kvm_fpu fields into the FXSAVE legacy region at `at`; everything else in the
 * region (MXCSR_MASK, the reserved bytes) is left as it is.
 */
export function encodeFxsave(fpu: Readonly<X86Fpu>, view: DataView, at = 0): void {
  for (let i = 0; i < X86_FPR_COUNT; i++) setU128(view, at + FXSAVE.st + i * 16, fpu.fpr[i]);
  view.setUint16(at + FXSAVE.fcw, fpu.fcw, true);
  view.setUint16(at + FXSAVE.fsw, fpu.fsw, true);
  view.setUint8(at + FXSAVE.ftw, fpu.ftwx);
  view.setUint16(at + FXSAVE.fop, fpu.lastOpcode, true);
  view.setBigUint64(at + FXSAVE.fip, BigInt.asUintN(64, fpu.lastIp), true);
  view.setBigUint64(at + FXSAVE.fdp, BigInt.asUintN(64, fpu.lastDp), true);
  for (let i = 0; i < X86_XMM_COUNT; i++) setU128(view, at + FXSAVE.xmm + i * 16, fpu.xmm[i]);
  view.setUint32(at + FXSAVE.mxcsr, fpu.mxcsr >>> 0, true);
}
