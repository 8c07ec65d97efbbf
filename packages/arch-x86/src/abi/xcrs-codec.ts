/**
 * `struct kvm_xcrs` ⇄ a list of extended control registers. KVM reports only the XCRs the
 * host has (XCR0 with XSAVE; none without — measured `nr_xcrs = 0` on a host without XSAVE),
 * so the list may be empty. Flags, reserved words and padding are written as zero.
 */
import { X86XcrLayout, X86XcrsLayout } from './layouts';
import { KVM_MAX_XCRS } from './constants';

export interface X86Xcr {
  /** XCR number (0 = XCR0, the XSAVE feature-enable mask). */
  index: number;
  value: bigint;
}

const XS = X86XcrsLayout.fields;
const X = X86XcrLayout.fields;

export function decodeXcrs(view: DataView): X86Xcr[] {
  const n = Math.min(view.getUint32(XS.nr_xcrs.offset, true), KVM_MAX_XCRS);
  const out: X86Xcr[] = [];
  for (let i = 0; i < n; i++) {
    const at = XS.xcrs.offset + i * XS.xcrs.stride;
    out.push({ index: view.getUint32(at + X.xcr.offset, true), value: view.getBigUint64(at + X.value.offset, true) });
  }
  return out;
}

export function encodeXcrs(xcrs: readonly X86Xcr[], view: DataView): void {
  new Uint8Array(view.buffer, view.byteOffset, X86XcrsLayout.size).fill(0);
  view.setUint32(XS.nr_xcrs.offset, xcrs.length, true);
  xcrs.forEach((x, i) => {
    const at = XS.xcrs.offset + i * XS.xcrs.stride;
    view.setUint32(at + X.xcr.offset, x.index, true);
    view.setBigUint64(at + X.value.offset, BigInt.asUintN(64, x.value), true);
  });
}
