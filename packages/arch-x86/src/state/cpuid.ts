import { KvmError, kvmIoctl, type Kvm } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { X86Cpuid2Layout, X86CpuidEntry2Layout } from '../abi/layouts';

/** One kvm_cpuid_entry2, as plain data (structured-cloneable, so it can travel to a vCPU thread). */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const E = X86CpuidEntry2Layout.fields;
const INITIAL_ENTRIES = 128;
/** Larger than any table KVM builds (KVM_MAX_CPUID_ENTRIES is 256). */
export const MAX_CPUID_ENTRIES = 4096;
const MAX_ENTRIES = MAX_CPUID_ENTRIES;
const E2BIG = 7;

/**
 * KVM_GET_SUPPORTED_CPUID: what this KVM can offer a guest. KVM answers E2BIG to a too-small
 * buffer without saying the size it needs (measured), so the buffer grows until it fits.
 */
export function getSupportedCpuid(kvm: Kvm): CpuidEntry[] {
  for (let n = INITIAL_ENTRIES; n <= MAX_ENTRIES; n *= 2) {
    const buf = new DataView(new ArrayBuffer(X86Cpuid2Layout.size + n * X86CpuidEntry2Layout.size));
    buf.setUint32(X86Cpuid2Layout.fields.nent.offset, n, true);
    try {
      kvmIoctl(kvm.fd, X86Ioctl.GET_SUPPORTED_CPUID, 'KVM_GET_SUPPORTED_CPUID', buf);
    } catch (e) {
      if ((e as { code?: string }).code === 'E2BIG') continue;
      throw e;
    }
    return decodeCpuidEntries(buf, buf.getUint32(X86Cpuid2Layout.fields.nent.offset, true));
  }
  throw new KvmError('KVM_GET_SUPPORTED_CPUID', E2BIG, 'E2BIG', `still too small with ${MAX_ENTRIES} entries`);
}

export function decodeCpuidEntries(buf: DataView, count: number): CpuidEntry[] {
  const out: CpuidEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = X86Cpuid2Layout.size + i * X86CpuidEntry2Layout.size;
    out.push({
      function: buf.getUint32(at + E.function.offset, true),
      index: buf.getUint32(at + E.index.offset, true),
      flags: buf.getUint32(at + E.flags.offset, true),
      eax: buf.getUint32(at + E.eax.offset, true),
      ebx: buf.getUint32(at + E.ebx.offset, true),
      ecx: buf.getUint32(at + E.ecx.offset, true),
      edx: buf.getUint32(at + E.edx.offset, true),
    });
  }
  return out;
}

/** kvm_cpuid2 bytes for KVM_SET_CPUID2. */
export function encodeCpuid2(entries: readonly CpuidEntry[]): DataView {
  const buf = new DataView(new ArrayBuffer(X86Cpuid2Layout.size + entries.length * X86CpuidEntry2Layout.size));
  buf.setUint32(X86Cpuid2Layout.fields.nent.offset, entries.length, true);
  entries.forEach((e, i) => {
    const at = X86Cpuid2Layout.size + i * X86CpuidEntry2Layout.size;
    buf.setUint32(at + E.function.offset, e.function, true);
    buf.setUint32(at + E.index.offset, e.index, true);
    buf.setUint32(at + E.flags.offset, e.flags, true);
    buf.setUint32(at + E.eax.offset, e.eax >>> 0, true);
    buf.setUint32(at + E.ebx.offset, e.ebx >>> 0, true);
    buf.setUint32(at + E.ecx.offset, e.ecx >>> 0, true);
    buf.setUint32(at + E.edx.offset, e.edx >>> 0, true);
  });
  return buf;
}
