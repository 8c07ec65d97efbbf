/**
 * The per-vCPU set-up sequence, written down once (x86-64.md §4 step 8; Firecracker's
 * configure_vcpus_for_boot). The VM-level steps come first, in x86ArchPlugin.configureVm: the
 * TSS address, then the in-kernel irqchip and PIT — both before any vCPU exists (KVM refuses
 * KVM_CREATE_IRQCHIP after KVM_CREATE_VCPU). Then core's prepareVm creates the vCPUs, and each
 * vCPU thread runs these steps in this order through X86KvmCPU.applyInitialState.
 */
import { FXSAVE, XSAVE_HEADER } from '../isa/xsave';
import { LAPIC_REG, LVT_DELIVERY, LVT_DELIVERY_MASK, readLapicReg, writeLapicReg } from '../isa/lapic';
import { MSR } from '../isa/msrs';
import type { X86Msr } from '../abi/msrs-codec';
import type { X86Sregs2 } from '../abi/sregs-codec';
import type { X86StateGroup } from './groups';
import type { X86StateData } from './thread-context';
import type { X86InitialState } from './initial-state';
import type { X86StateSync } from './state-sync';

export interface SetupStep {
  readonly group: X86StateGroup;
  readonly why: string;
  /** The step changes part of the group: pull it first so the rest stays as KVM has it. */
  readonly merge: boolean;
  readonly when: (state: X86InitialState) => boolean;
  readonly apply: (data: X86StateData, state: X86InitialState) => void;
}

/**
 * MSR values at boot (Firecracker's create_boot_msr_entries). TSC is not among them: KVM
 * synchronises the vCPUs' TSCs at KVM_CREATE_VCPU already.
 */
export const X86_BOOT_MSRS: readonly X86Msr[] = [
  { index: MSR.SYSENTER_CS, value: 0n },
  { index: MSR.SYSENTER_ESP, value: 0n },
  { index: MSR.SYSENTER_EIP, value: 0n },
  { index: MSR.STAR, value: 0n },
  { index: MSR.CSTAR, value: 0n },
  { index: MSR.KERNEL_GS_BASE, value: 0n },
  { index: MSR.SFMASK, value: 0n },
  { index: MSR.LSTAR, value: 0n },
  /** FAST_STRING. */
  { index: MSR.MISC_ENABLE, value: 1n },
  /** MTRRs enabled (bit 11), default type write-back (6). */
  { index: MSR.MTRR_DEF_TYPE, value: 0x806n },
];

/** x87 control word and MXCSR at boot (their reset values, as Firecracker sets them). */
export const X86_BOOT_FPU = { fcw: 0x37f, mxcsr: 0x1f80 } as const;

/** XSTATE_BV bits for x87 and SSE: the legacy-region fields below are only loaded when set. */
const XSTATE_FP_SSE = 3n;

/** Merge partial special registers into `target`: segments and tables field by field. */
export function mergeSregs(target: X86Sregs2, patch: Partial<Record<keyof X86Sregs2, unknown>>): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const cur = t[key];
    if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && typeof value === 'object') Object.assign(cur, value);
    else t[key] = value;
  }
}

export const X86_VCPU_SETUP: readonly SetupStep[] = [
  {
    group: 'cpuid',
    why: 'KVM derives MSR, XSAVE and LAPIC behaviour from the guest CPUID, so it comes first',
    merge: false,
    when: (s) => s.cpuid !== undefined,
    apply: (d, s) => {
      d.cpuid = s.cpuid!.map((e) => ({ ...e }));
    },
  },
  {
    group: 'msrs',
    why: 'after CPUID, which decides which MSRs exist',
    merge: true,
    when: (s) => (s.msrs?.length ?? 0) > 0,
    apply: (d, s) => {
      for (const m of s.msrs!) {
        const held = d.msrs.find((x) => x.index === m.index);
        if (held !== undefined) held.value = m.value;
      }
    },
  },
  {
    group: 'mpState',
    why: 'before the registers, as in a restore',
    merge: false,
    when: (s) => s.mpState !== undefined,
    apply: (d, s) => {
      d.mpState = s.mpState!;
    },
  },
  {
    group: 'regs',
    why: 'general registers over the reset values',
    merge: true,
    when: (s) => s.regs !== undefined,
    apply: (d, s) => {
      Object.assign(d.regs, s.regs);
    },
  },
  {
    group: 'xsave',
    why: 'x87 control word and MXCSR',
    merge: true,
    when: (s) => s.fpu !== undefined,
    apply: (d, s) => {
      const v = new DataView(d.xsave.buffer, d.xsave.byteOffset, d.xsave.byteLength);
      v.setUint16(FXSAVE.fcw, s.fpu!.fcw, true);
      v.setUint32(FXSAVE.mxcsr, s.fpu!.mxcsr, true);
      v.setBigUint64(XSAVE_HEADER.xstateBv, v.getBigUint64(XSAVE_HEADER.xstateBv, true) | XSTATE_FP_SSE, true);
    },
  },
  {
    group: 'sregs',
    why: 'mode, paging and APIC base; after the general registers, as Firecracker and QEMU do',
    merge: true,
    when: (s) => s.sregs !== undefined,
    apply: (d, s) => mergeSregs(d.sregs, s.sregs!),
  },
  {
    group: 'lapic',
    why: 'LINT0 delivers ExtINT (the PIC), LINT1 NMI; after SREGS, which sets the APIC base',
    merge: true,
    when: (s) => s.inKernelLapic === true,
    apply: (d) => {
      const lint = (reg: number, mode: number): void => writeLapicReg(d.lapic, reg, (readLapicReg(d.lapic, reg) & ~LVT_DELIVERY_MASK) | mode);
      lint(LAPIC_REG.LVT_LINT0, LVT_DELIVERY.EXTINT);
      lint(LAPIC_REG.LVT_LINT1, LVT_DELIVERY.NMI);
    },
  },
];

/** Run X86_VCPU_SETUP on one vCPU: each step that has something to set is pushed at once. */
export function applySetupSequence(sync: X86StateSync, state: X86InitialState): void {
  sync.configure({ lapic: state.inKernelLapic === true, msrList: state.msrList ?? [] });
  for (const step of X86_VCPU_SETUP) {
    if (step.when(state)) sync.edit(step.group, step.merge, (data) => step.apply(data, state));
  }
}
