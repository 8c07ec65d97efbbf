/**
 * The ACPI Multiple APIC Description Table (MADT, signature "APIC"; ACPI 6.4 §5.2.12) of a
 * kvmts PC: one Processor Local APIC entry per vCPU, the IOAPIC, the ISA interrupt source
 * overrides and the LAPICs' NMI input — the same machine the MP table describes (both read
 * pc-wiring.ts). Why it exists: once a kernel finds ACPI tables it takes its processors from
 * them; Linux with an FADT but no MADT brought up only the boot CPU of two.
 *
 * Interrupt source overrides: ACPI maps ISA IRQ n to GSI n unless an override says otherwise, so
 * only the IRQs the routing moves get one (the 'pc' routing: IRQ 0, the PIT, on GSI 2). Plus one
 * for the SCI (FADT SCI_INT), active high and level-triggered, as PC firmware describes it:
 * without it Linux programs the SCI's pin active-low, which an ISA line driven by the acpi-pm
 * device is not.
 *
 * Written by hand from the specification's tables (§5.2.12.2, .5, .7); field offsets below.
 */
import { acpiTable, sealAcpiTable } from './acpi-sdt';
import { X86_IOAPIC_ADDRESS, X86_LAPIC_ADDRESS, X86_LAPIC_LINT, isaInterrupts, processorApicId, type PcWiring } from './pc-wiring';

/** The MADT's fixed part after the common header (§5.2.12, table 5.43). */
export const ACPI_MADT = {
  revision: 5,
  lapicAddress: 36, // u32
  flags: 40, // u32
  entries: 44,
} as const;

/** MADT flags: PCAT_COMPAT, the machine also has a dual 8259 (Linux then masks it when it uses the IOAPIC). */
export const ACPI_MADT_PCAT_COMPAT = 1 << 0;

/**
 * The interrupt controller structures this machine uses: type, length, and each field's offset
 * within the structure (every structure starts with its type and length bytes).
 */
export const MADT_ENTRY = {
  /** Processor Local APIC (§5.2.12.2). */
  localApic: { type: 0, length: 8, processorUid: 2, apicId: 3, flags: 4 },
  /** I/O APIC (§5.2.12.3). */
  ioApic: { type: 1, length: 12, ioapicId: 2, address: 4, gsiBase: 8 },
  /** Interrupt Source Override (§5.2.12.5). */
  sourceOverride: { type: 2, length: 10, bus: 2, source: 3, gsi: 4, flags: 8 },
  /** Local APIC NMI (§5.2.12.7). */
  localApicNmi: { type: 4, length: 6, processorUid: 2, flags: 3, lint: 5 },
} as const;

/** Local APIC flags (table 5.47): the processor is usable. */
export const MADT_LAPIC_ENABLED = 1 << 0;
/** Processor UID meaning "every processor" in a Local APIC NMI structure. */
export const MADT_ALL_PROCESSORS = 0xff;
/** The ISA bus in an interrupt source override. */
const ISA_BUS = 0;
/**
 * MPS INTI flags (table 5.50): polarity in bits 1:0, trigger mode in bits 3:2; 0 in both means
 * "conforms to the bus" (ISA: active high, edge).
 */
export const MPS_INTI = { CONFORMS: 0, ACTIVE_HIGH: 0b01, ACTIVE_LOW: 0b11, EDGE: 0b01 << 2, LEVEL: 0b11 << 2 } as const;

export interface MadtOptions extends PcWiring {
  /** The SCI's ISA IRQ (the FADT's SCI_INT). */
  readonly sciIrq: number;
}

interface Override {
  readonly irq: number;
  readonly gsi: number;
  readonly flags: number;
}

/** The overrides: every ISA IRQ the routing puts on another pin (bus-conforming), then the SCI, level and active high. */
function overrides(o: MadtOptions): Override[] {
  const isa = isaInterrupts(o.isaRouting);
  const moved: Override[] = isa.filter(({ irq, pin }) => irq !== pin).map(({ irq, pin }) => ({ irq, gsi: pin, flags: MPS_INTI.CONFORMS }));
  const sciPin = isa.find((e) => e.irq === o.sciIrq)?.pin ?? o.sciIrq;
  return [...moved.filter((e) => e.irq !== o.sciIrq), { irq: o.sciIrq, gsi: sciPin, flags: MPS_INTI.ACTIVE_HIGH | MPS_INTI.LEVEL }];
}

/** Bytes of the MADT for these options. */
export function madtBytes(o: MadtOptions): number {
  const E = MADT_ENTRY;
  return ACPI_MADT.entries + o.cpus * E.localApic.length + E.ioApic.length + overrides(o).length * E.sourceOverride.length + E.localApicNmi.length;
}

/** The MADT, sealed (its checksum set). The options are checked by the caller (checkedPcWiring). */
export function buildMadt(o: MadtOptions): Uint8Array {
  const E = MADT_ENTRY;
  const { bytes, view } = acpiTable('APIC', madtBytes(o), ACPI_MADT.revision);
  view.setUint32(ACPI_MADT.lapicAddress, X86_LAPIC_ADDRESS, true);
  view.setUint32(ACPI_MADT.flags, ACPI_MADT_PCAT_COMPAT, true);
  let at: number = ACPI_MADT.entries;
  const entry = (e: { type: number; length: number }): number => {
    const start = at;
    bytes[start] = e.type;
    bytes[start + 1] = e.length;
    at += e.length;
    return start;
  };
  for (let vcpu = 0; vcpu < o.cpus; vcpu++) {
    const e = entry(E.localApic);
    bytes[e + E.localApic.processorUid] = vcpu;
    bytes[e + E.localApic.apicId] = processorApicId(vcpu);
    view.setUint32(e + E.localApic.flags, MADT_LAPIC_ENABLED, true);
  }
  const io = entry(E.ioApic);
  bytes[io + E.ioApic.ioapicId] = o.ioapicId;
  view.setUint32(io + E.ioApic.address, X86_IOAPIC_ADDRESS, true);
  view.setUint32(io + E.ioApic.gsiBase, 0, true);
  for (const { irq, gsi, flags } of overrides(o)) {
    const e = entry(E.sourceOverride);
    bytes[e + E.sourceOverride.bus] = ISA_BUS;
    bytes[e + E.sourceOverride.source] = irq;
    view.setUint32(e + E.sourceOverride.gsi, gsi, true);
    view.setUint16(e + E.sourceOverride.flags, flags, true);
  }
  // LINT0's ExtINT has no MADT structure: an ACPI kernel assumes the 8259 on the BSP's LINT0.
  const nmi = entry(E.localApicNmi);
  bytes[nmi + E.localApicNmi.processorUid] = MADT_ALL_PROCESSORS;
  view.setUint16(nmi + E.localApicNmi.flags, MPS_INTI.CONFORMS, true);
  bytes[nmi + E.localApicNmi.lint] = X86_LAPIC_LINT.nmi;
  return sealAcpiTable(bytes);
}
