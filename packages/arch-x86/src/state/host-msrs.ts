/** MSR queries the main thread makes while it prepares the vCPUs (prepareBoot). */
import { KvmError, kvmIoctl, type Kvm } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { X86MsrListLayout } from '../abi/layouts';
import { decodeMsrIndexList, decodeMsrValues, encodeMsrs, msrsBytes, type X86Msr } from '../abi/msrs-codec';

const E2BIG = 7;

/**
 * KVM_GET_MSR_INDEX_LIST (system fd): the MSRs KVM saves and restores. Asked with room for
 * none first; KVM answers E2BIG and the count it needs (measured: 41 on PVM, 97 on nested SVM).
 */
export function getMsrIndexList(kvm: Kvm): number[] {
  const probe = new DataView(new ArrayBuffer(X86MsrListLayout.size));
  try {
    kvmIoctl(kvm.fd, X86Ioctl.GET_MSR_INDEX_LIST, 'KVM_GET_MSR_INDEX_LIST', probe);
    return [];
  } catch (e) {
    if (!(e instanceof KvmError) || e.errno !== E2BIG) throw e;
  }
  const n = probe.getUint32(X86MsrListLayout.fields.nmsrs.offset, true);
  const buf = new DataView(new ArrayBuffer(X86MsrListLayout.size + n * X86MsrListLayout.fields.indices.stride));
  buf.setUint32(X86MsrListLayout.fields.nmsrs.offset, n, true);
  kvmIoctl(kvm.fd, X86Ioctl.GET_MSR_INDEX_LIST, 'KVM_GET_MSR_INDEX_LIST', buf);
  return decodeMsrIndexList(buf);
}

/** KVM_GET_MSRS on a vCPU fd (host-initiated reads); a refused MSR is a KvmError naming it. */
export function readVcpuMsrs(vcpuFd: number, indices: readonly number[]): X86Msr[] {
  const msrs = indices.map((index) => ({ index, value: 0n }));
  const buf = new DataView(new ArrayBuffer(msrsBytes(msrs.length)));
  encodeMsrs(msrs, buf);
  const done = kvmIoctl(vcpuFd, X86Ioctl.GET_MSRS, 'KVM_GET_MSRS', buf);
  if (done !== msrs.length) throw new KvmError('KVM_GET_MSRS', 0, 'EPARTIAL', `KVM refused MSR 0x${msrs[done].index.toString(16)}`);
  decodeMsrValues(buf, msrs);
  return msrs;
}
