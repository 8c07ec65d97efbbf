import { ConfigError, describeValue } from '@kvmts/core';
import type { X86FlatBoot } from './loader/flat-image';
import { checkCpuidRequest, type X86CpuidRequest } from './state/cpuid-request';

/** What `MachineConfig.boot` holds on x86 (more boot kinds join with the Linux loaders). */
export type X86Boot = X86FlatBoot;

/** `MachineConfig.archOptions` on x86. */
export interface X86MachineOptions {
  /**
   * 'kernel': KVM's in-kernel PIC, IOAPIC, PIT and LAPICs (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2);
   * device interrupt lines reach the guest through them and HLT sleeps in the kernel. 'none'
   * (default): no interrupt controller; HLT ends the run with reason 'halted'.
   */
  readonly irqchip?: 'kernel' | 'none';
  /**
   * The guest CPUID: KVM_GET_SUPPORTED_CPUID ∩ this request, then normalised per vCPU
   * (state/cpuid-normalize.ts). Default: everything KVM supports.
   */
  readonly cpuid?: X86CpuidRequest;
}

const KNOWN = ['irqchip', 'cpuid'];

/** `archOptions`, checked; a ConfigError names the bad option. */
export function x86MachineOptions(raw: unknown): Required<X86MachineOptions> {
  if (raw === undefined) return { irqchip: 'none', cpuid: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('archOptions', 'must be an object (X86MachineOptions)');
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) throw new ConfigError(`archOptions.${key}`, `unknown x86 option (known: ${KNOWN.join(', ')})`);
  }
  const o = raw as X86MachineOptions;
  const irqchip = o.irqchip ?? 'none';
  if (irqchip !== 'kernel' && irqchip !== 'none') throw new ConfigError('archOptions.irqchip', `must be 'kernel' or 'none', got ${describeValue(irqchip)}`);
  return { irqchip, cpuid: checkCpuidRequest(o.cpuid) };
}
