/**
 * gem5's caveat, as a check: "ID registers in the host and in gem5 must match for switching
 * between simulated CPUs and KVM. This is particularly important for ID registers describing
 * memory system capabilities (e.g., ASID size, physical address size)." (gem5-kvm.md §9; gem5
 * itself never checks.) A context moves onto a KVM vCPU only when every ID_AA64* field matches.
 */
import { ConfigError } from '@kvmts/core';
import { ARM64_ID_REGISTERS } from '../abi';
import type { ArmV8Registers } from './register-classes';

export interface IdRegisterMismatch {
  readonly register: string;
  /** The field's name in the Arm ARM, or bits[h:l] where it has none. */
  readonly field: string;
  /** The field's value on this KVM vCPU. */
  readonly kvm: number;
  /** The field's value in the context that wants to move here. */
  readonly context: number;
}

/** Every 4-bit ID field whose value differs between `kvm` and `context`. */
export function idRegisterMismatches(kvm: ArmV8Registers['id'], context: ArmV8Registers['id']): IdRegisterMismatch[] {
  const out: IdRegisterMismatch[] = [];
  for (const reg of ARM64_ID_REGISTERS) {
    const a = kvm[reg.name];
    const b = context[reg.name];
    if (a === b) continue;
    reg.fields.forEach((name, i) => {
      const shift = BigInt(4 * i);
      const fa = Number((a >> shift) & 0xfn);
      const fb = Number((b >> shift) & 0xfn);
      if (fa !== fb) out.push({ register: reg.name, field: name || `bits[${4 * i + 3}:${4 * i}]`, kvm: fa, context: fb });
    });
  }
  return out;
}

/** Throws ConfigError listing every differing field when `context` cannot run on this KVM vCPU. */
export function assertIdRegistersMatch(kvm: ArmV8Registers['id'], context: ArmV8Registers['id']): void {
  const mismatches = idRegisterMismatches(kvm, context);
  if (mismatches.length === 0) return;
  const list = mismatches.map((m) => `${m.register}.${m.field} (KVM ${m.kvm}, context ${m.context})`).join(', ');
  throw new ConfigError(
    'threadContext.id',
    `the context's ID registers differ from this KVM vCPU's: ${list}. A thread moves between CPU models only when they ` +
      'describe the same CPU; configure the other model with the ID registers this KVM reports (cpu.getThreadContext().id)',
  );
}
