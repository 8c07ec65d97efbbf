/**
 * The x86 CPU fingerprint of a checkpoint (core's CpuFingerprint, kind 'x86-cpuid'):
 *
 *  - identity: the vendor string and family/model (leaf 0, leaf 1 EAX of KVM_GET_SUPPORTED_CPUID,
 *    which reports the host's signature). The stepping is left out: steppings of one model run
 *    the same guests.
 *  - features: the feature words of the guest's CPUID table as this host builds it for the
 *    machine's config (the same KVM_GET_SUPPORTED_CPUID ∩ request, normalised, as prepareBoot),
 *    minus the bits KVM rewrites at run time. A restore builds them again on its host; every bit
 *    the saved guest had must be there.
 *  - digest: SHA-256 of the whole supported table, for diagnostics.
 */
import { createSha256, type CpuFingerprint, type Kvm, type MachineConfig } from '@kvmts/core';
import { getSupportedCpuid, type CpuidEntry } from '../state/cpuid';
import { buildCpuidTables, X86_CPUID_DYNAMIC_BITS } from '../state/cpuid-normalize';
import { findCpuid } from '../state/cpuid-request';
import { x86MachineOptions } from '../machine-options';


type Register = 'eax' | 'ebx' | 'ecx' | 'edx';

/** The CPUID words that hold feature flags a guest may use (Intel SDM vol. 2A, AMD APM vol. 3). */
export const X86_FINGERPRINT_FEATURE_WORDS: readonly { readonly leaf: number; readonly subleaf: number; readonly register: Register }[] = [
  { leaf: 0x1, subleaf: 0, register: 'ecx' },
  { leaf: 0x1, subleaf: 0, register: 'edx' },
  { leaf: 0x7, subleaf: 0, register: 'ebx' },
  { leaf: 0x7, subleaf: 0, register: 'ecx' },
  { leaf: 0x7, subleaf: 0, register: 'edx' },
  { leaf: 0x7, subleaf: 1, register: 'eax' },
  { leaf: 0xd, subleaf: 1, register: 'eax' },
  { leaf: 0x80000001, subleaf: 0, register: 'ecx' },
  { leaf: 0x80000001, subleaf: 0, register: 'edx' },
  { leaf: 0x80000008, subleaf: 0, register: 'ebx' },
];

/** 'leaf 0x7.0 ebx' — also how a mismatch names the word. */
export function featureWordName(w: { leaf: number; subleaf: number; register: Register }): string {
  return `cpuid leaf 0x${w.leaf.toString(16)}.${w.subleaf} ${w.register}`;
}

function vendorOf(entries: readonly CpuidEntry[]): string {
  const e = findCpuid(entries, 0);
  if (!e) return 'unknown';
  const b = Buffer.alloc(12);
  b.writeUInt32LE(e.ebx >>> 0, 0);
  b.writeUInt32LE(e.edx >>> 0, 4);
  b.writeUInt32LE(e.ecx >>> 0, 8);
  return b.toString('latin1');
}

/** Family and model as the SDM combines them (extended fields for family 0xF, and 0x6 for the model). */
export function x86Signature(eax: number): { family: number; model: number } {
  const base = (eax >>> 8) & 0xf;
  const family = base === 0xf ? base + ((eax >>> 20) & 0xff) : base;
  const model = base === 0x6 || base === 0xf ? (((eax >>> 16) & 0xf) << 4) | ((eax >>> 4) & 0xf) : (eax >>> 4) & 0xf;
  return { family, model };
}

/** A fingerprint from the supported table and the guest table built from it (pure; golden-tested). */
export function x86FingerprintFrom(supported: readonly CpuidEntry[], guest: readonly CpuidEntry[]): CpuFingerprint {
  const { family, model } = x86Signature(findCpuid(supported, 1)?.eax ?? 0);
  const features: Record<string, string> = {};
  for (const w of X86_FINGERPRINT_FEATURE_WORDS) {
    const entry = findCpuid(guest, w.leaf, w.subleaf);
    if (!entry) continue;
    const dynamic = X86_CPUID_DYNAMIC_BITS.filter((d) => d.leaf === w.leaf && d.subleaf === w.subleaf && d.register === w.register).reduce((m, d) => m | d.mask, 0);
    features[featureWordName(w)] = `0x${((entry[w.register] & ~dynamic) >>> 0).toString(16)}`;
  }
  const canonical = [...supported].sort((a, b) => a.function - b.function || a.index - b.index).map((e) => [e.function, e.index, e.flags, e.eax >>> 0, e.ebx >>> 0, e.ecx >>> 0, e.edx >>> 0]);
  return {
    kind: 'x86-cpuid',
    identity: { vendor: vendorOf(supported), family: `0x${family.toString(16)}`, model: `0x${model.toString(16)}` },
    features,
    digest: createSha256().update(JSON.stringify(canonical)).digest('hex'),
  };
}

/** The fingerprint of this host for a machine of `config`. */
export function x86CpuFingerprint(kvm: Kvm, config: MachineConfig): CpuFingerprint {
  const options = x86MachineOptions(config.archOptions);
  const supported = getSupportedCpuid(kvm);
  const [guest] = buildCpuidTables(supported, options.cpuid, { vcpuCount: config.cpus ?? 1, inKernelLapic: options.irqchip === 'kernel' });
  return x86FingerprintFrom(supported, guest);
}
