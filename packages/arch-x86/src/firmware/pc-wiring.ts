/**
 * What the firmware tables say about a kvmts PC's processors and interrupt wiring — one place,
 * so the Intel MP table (mp-table.ts) and the ACPI MADT (madt.ts) cannot describe two different
 * machines. A kernel reads one or the other: Linux takes the MADT when the ACPI tables carry one
 * and falls back to the MP table otherwise.
 *
 * - Processors: vCPU n has APIC id n (KVM gives the in-kernel LAPIC the vCPU id, and the CPUID
 *   normalisation reports the same id in leaf 1), vCPU 0 is the bootstrap processor; xAPIC ids
 *   stop at 254 (0xFF is the broadcast id).
 * - One IOAPIC, by default with the first id after the processors', whose pins carry the 16 ISA
 *   IRQs as the VM's GSI routing delivers them (`IsaRouting`).
 * - Local interrupts, as kvmts programs the LAPICs: the 8259's output (ExtINT) on the BSP's
 *   LINT0, NMI on every LAPIC's LINT1.
 */
import { ConfigError, describeValue } from '@kvmts/core';

/** The in-kernel LAPIC and IOAPIC pages (KVM's fixed addresses). */
export const X86_LAPIC_ADDRESS = 0xfee00000;
export const X86_IOAPIC_ADDRESS = 0xfec00000;

/** The most processors the tables describe: xAPIC ids 0–253 (the IOAPIC needs an id too; 0xFF is broadcast). */
export const X86_FIRMWARE_MAX_CPUS = 254;
/** ISA IRQs routed through the IOAPIC. */
export const X86_ISA_IRQS = 16;

/**
 * How ISA IRQs reach IOAPIC pins:
 * - 'pc': IRQ 0 (the PIT) on pin 2 and no entry for IRQ 2 (the cascade), every other IRQ n on
 *   pin n — what Linux expects of a PC and what SeaBIOS, QEMU and kvmtool describe; the VM's
 *   GSI routing must then deliver GSI 0 to IOAPIC pin 2 (QEMU and kvmtool route it so).
 * - 'identity': IRQ n on pin n for n = 0–15 — KVM's default routing (GSI n → pin n), which
 *   Firecracker describes.
 */
export type IsaRouting = 'pc' | 'identity';

/** The local interrupt inputs of the LAPICs (Intel SDM vol. 3 §11.5.1: LINT0 and LINT1). */
export const X86_LAPIC_LINT = {
  /** The 8259 PIC's INTR output, on the bootstrap processor only (virtual wire mode). */
  extInt: 0,
  /** NMI, on every processor. */
  nmi: 1,
} as const;

/** The ISA IRQ → IOAPIC pin assignments of a routing (IRQs without an entry are left out). */
export function isaInterrupts(routing: IsaRouting): readonly { readonly irq: number; readonly pin: number }[] {
  const out: { irq: number; pin: number }[] = [];
  for (let irq = 0; irq < X86_ISA_IRQS; irq++) {
    if (routing === 'pc' && irq === 2) continue;
    out.push({ irq, pin: routing === 'pc' && irq === 0 ? 2 : irq });
  }
  return out;
}

/** The APIC id of vCPU `vcpu` (the CPUID normalisation's leaf 1 EBX[31:24]). */
export function processorApicId(vcpu: number): number {
  return vcpu;
}

/** The wiring both tables describe, checked: `where` names the option in a ConfigError. */
export interface PcWiring {
  readonly cpus: number;
  readonly ioapicId: number;
  readonly isaRouting: IsaRouting;
}

export function checkedPcWiring(where: string, o: { readonly cpus: unknown; readonly ioapicId?: unknown; readonly isaRouting?: unknown }): PcWiring {
  const { cpus } = o;
  if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1 || cpus > X86_FIRMWARE_MAX_CPUS) {
    throw new ConfigError(`${where}.cpus`, `must be an integer in [1, ${X86_FIRMWARE_MAX_CPUS}], got ${describeValue(cpus)}`);
  }
  const ioapicId = o.ioapicId ?? cpus;
  if (typeof ioapicId !== 'number' || !Number.isInteger(ioapicId) || ioapicId < cpus || ioapicId > X86_FIRMWARE_MAX_CPUS) {
    throw new ConfigError(`${where}.ioapicId`, `must be an integer in [${cpus}, ${X86_FIRMWARE_MAX_CPUS}] (the processors use APIC ids 0–${cpus - 1}), got ${describeValue(ioapicId)}`);
  }
  const isaRouting = o.isaRouting ?? 'pc';
  if (isaRouting !== 'pc' && isaRouting !== 'identity') throw new ConfigError(`${where}.isaRouting`, `must be 'pc' or 'identity', got ${describeValue(isaRouting)}`);
  return { cpus, ioapicId, isaRouting };
}
