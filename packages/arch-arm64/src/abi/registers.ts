/**
 * The registers kvmts moves through ONE_REG, as tables used for get, set and dump alike
 * (gem5's arm64 register classes, gem5-kvm.md §4.4). Core and FP/SIMD registers come from
 * struct kvm_regs; system registers from an explicit allow-list (./system-registers.ts).
 */
import { Arm64RegsLayout } from './layouts';
import { coreRegId, type OneRegBytes } from './one-reg';

/** X0–X30, in kvm_regs.regs.regs order. */
export const ARM64_X_NAMES = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10', 'x11', 'x12', 'x13', 'x14', 'x15', 'x16', 'x17', 'x18', 'x19', 'x20', 'x21', 'x22', 'x23', 'x24', 'x25', 'x26', 'x27', 'x28', 'x29', 'x30'] as const;
/** The AArch64 SPSR_EL1, then AArch32's banked SPSRs (kvm_regs.spsr order, KVM_SPSR_*). */
export const ARM64_SPSR_NAMES = ['spsr_el1', 'spsr_abt', 'spsr_und', 'spsr_irq', 'spsr_fiq'] as const;
/** V0–V31 (128 bits each), in kvm_regs.fp_regs.vregs order. */
export const ARM64_V_NAMES = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'v11', 'v12', 'v13', 'v14', 'v15', 'v16', 'v17', 'v18', 'v19', 'v20', 'v21', 'v22', 'v23', 'v24', 'v25', 'v26', 'v27', 'v28', 'v29', 'v30', 'v31'] as const;

export type Arm64CoreRegName = (typeof ARM64_X_NAMES)[number] | 'sp_el0' | 'pc' | 'pstate' | 'sp_el1' | 'elr_el1' | (typeof ARM64_SPSR_NAMES)[number];
export type Arm64FpRegName = (typeof ARM64_V_NAMES)[number] | 'fpsr' | 'fpcr';

/** One member of struct kvm_regs reached through ONE_REG. */
export interface Arm64KvmRegsRegister<Name extends string> {
  readonly name: Name;
  /** C member designator in struct kvm_regs (the ABI test checks `id` against KVM_REG_ARM_CORE_REG(member)). */
  readonly member: string;
  readonly id: bigint;
}

type RegsField = keyof typeof Arm64RegsLayout.fields;

function member<Name extends string>(name: Name, field: RegsField, bytes: OneRegBytes): Arm64KvmRegsRegister<Name> {
  return { name, member: field, id: coreRegId(Arm64RegsLayout.fields[field].offset, bytes) };
}

function elements<Name extends string>(names: readonly Name[], field: RegsField, bytes: OneRegBytes): Arm64KvmRegsRegister<Name>[] {
  const f = Arm64RegsLayout.fields[field] as { offset: number; stride: number };
  return names.map((name, i) => ({ name, member: `${field}[${i}]`, id: coreRegId(f.offset + i * f.stride, bytes) }));
}

/** The core registers (U64): general registers, stack pointers, PC, PSTATE, exception return state. */
export const ARM64_CORE_REGISTERS: readonly Arm64KvmRegsRegister<Arm64CoreRegName>[] = [
  ...elements(ARM64_X_NAMES, 'regs.regs', 8),
  member('sp_el0', 'regs.sp', 8),
  member('pc', 'regs.pc', 8),
  member('pstate', 'regs.pstate', 8),
  member('sp_el1', 'sp_el1', 8),
  member('elr_el1', 'elr_el1', 8),
  ...elements(ARM64_SPSR_NAMES, 'spsr', 8),
];

/** The FP/SIMD registers: V0–V31 as U128 (asking for them as U64 fails), FPSR and FPCR as U32. */
export const ARM64_FP_REGISTERS: readonly Arm64KvmRegsRegister<Arm64FpRegName>[] = [
  ...elements(ARM64_V_NAMES, 'fp_regs.vregs', 16),
  member('fpsr', 'fp_regs.fpsr', 4),
  member('fpcr', 'fp_regs.fpcr', 4),
];

/** PSTATE at Linux's entry (booting.rst): EL1h (M = 0b0101) with D, A, I and F masked. */
export const ARM64_PSTATE_EL1H_MASKED = 0x3c5n;
