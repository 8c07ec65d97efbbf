import { ConfigError, kvmIoctl, type Kvm } from '@kvmts/core';
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
/** KVM_GET_SUPPORTED_CPUID does not report the needed size on E2BIG (measured), so grow and retry. */
const INITIAL_ENTRIES = 128;
const MAX_ENTRIES = 4096;

/** KVM_GET_SUPPORTED_CPUID: what this KVM can offer a guest. */
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
  throw new ConfigError('cpuid', `KVM_GET_SUPPORTED_CPUID needs more than ${MAX_ENTRIES} entries`);
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

const LEAF1_ECX_HYPERVISOR = 1 << 31;
const LEAF1_EDX_HTT = 1 << 28;

/**
 * The minimum per-vCPU fix-ups (x86-64.md §5) that make the supported table a valid guest
 * table: leaf 1 EBX carries the initial APIC id and logical-CPU count, the hypervisor bit is
 * set, HTT reflects the vCPU count. Full normalisation (topology leaves, PMU, templates) is the
 * CPUID issue's job; this keeps the values honest for small guests.
 */
export function cpuidForVcpu(supported: readonly CpuidEntry[], vcpuId: number, vcpuCount: number): CpuidEntry[] {
  const logical = 1 << Math.ceil(Math.log2(Math.max(1, vcpuCount)));
  return supported.map((e) => {
    if (e.function !== 1) return { ...e };
    const ebx = ((vcpuId & 0xff) << 24) | ((Math.min(logical, 255) & 0xff) << 16) | (8 << 8) | (e.ebx & 0xff);
    const edx = vcpuCount > 1 ? e.edx | LEAF1_EDX_HTT : e.edx & ~LEAF1_EDX_HTT;
    return { ...e, ebx: ebx >>> 0, ecx: (e.ecx | LEAF1_ECX_HYPERVISOR) >>> 0, edx: edx >>> 0 };
  });
}
