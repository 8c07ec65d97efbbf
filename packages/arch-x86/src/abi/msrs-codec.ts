/**
 * `struct kvm_msrs` (a header and inline kvm_msr_entry records, so a plain buffer is the whole
 * argument) and `struct kvm_msr_list`. KVM_GET/SET_MSRS return how many entries they
 * processed; fewer than asked means the entry at that position was refused.
 */
import { X86MsrEntryLayout, X86MsrListLayout, X86MsrsLayout } from './layouts';

export interface X86Msr {
  index: number;
  value: bigint;
}

const H = X86MsrsLayout.fields;
const ENTRY = X86MsrEntryLayout.size;
const M = X86MsrEntryLayout.fields;

export function msrsBytes(count: number): number {
  return X86MsrsLayout.size + count * ENTRY;
}

/** Header and entries of `msrs` (values included: KVM_SET_MSRS; KVM_GET_MSRS overwrites them). */
export function encodeMsrs(msrs: readonly X86Msr[], view: DataView): void {
  view.setUint32(H.nmsrs.offset, msrs.length, true);
  view.setUint32(H.pad.offset, 0, true);
  for (let i = 0; i < msrs.length; i++) {
    const at = H.entries.offset + i * ENTRY;
    view.setUint32(at + M.index.offset, msrs[i].index >>> 0, true);
    view.setUint32(at + M.reserved.offset, 0, true);
    view.setBigUint64(at + M.data.offset, BigInt.asUintN(64, msrs[i].value), true);
  }
}

/** The values KVM_GET_MSRS wrote, into `out` (same order, `count` entries). */
export function decodeMsrValues(view: DataView, out: X86Msr[], count = out.length): void {
  for (let i = 0; i < count; i++) out[i].value = view.getBigUint64(H.entries.offset + i * ENTRY + M.data.offset, true);
}

export function decodeMsrIndexList(view: DataView): number[] {
  const n = view.getUint32(X86MsrListLayout.fields.nmsrs.offset, true);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(view.getUint32(X86MsrListLayout.fields.indices.offset + i * X86MsrListLayout.fields.indices.stride, true));
  return out;
}
