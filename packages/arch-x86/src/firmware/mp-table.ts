/**
 * The Intel MultiProcessor Specification 1.4 tables, as a pure builder: the floating pointer
 * structure a kernel scans for ("_MP_") and the configuration table it points to ("PCMP") with
 * one processor entry per vCPU, the ISA bus, the IOAPIC, the ISA interrupt assignments and the
 * local interrupts. Linux without ACPI finds its CPUs here (x86-64.md §7: "SMP needs an MP
 * table"). Written by hand from the spec (chapter 4); field layouts are the tables below.
 *
 * Where it goes: the BIOS area at 0xF0000 (MP_TABLE_AREA), which Linux scans for the floating
 * pointer, the configuration table right after it. The boot loader must keep that area out of
 * the e820 RAM it reports (Firecracker's layout reserves 0x9FC00–0xFFFFF).
 */
import { ConfigError, describeValue, type GuestMemory } from '@kvmts/core';
import { X86_IOAPIC_ADDRESS, X86_LAPIC_ADDRESS, X86_LAPIC_LINT, checkedPcWiring, isaInterrupts, processorApicId, type IsaRouting } from './pc-wiring';

/** The guest-physical area the tables occupy: the 64 KiB BIOS area below 1 MiB. */
export const MP_TABLE_AREA = { base: 0xf0000, size: 0x10000 } as const;

/** Entry types (spec table 4-3) and their sizes. */
export const MP_ENTRY = { PROCESSOR: 0, BUS: 1, IOAPIC: 2, IO_INTERRUPT: 3, LOCAL_INTERRUPT: 4 } as const;
const ENTRY_BYTES = { [MP_ENTRY.PROCESSOR]: 20, [MP_ENTRY.BUS]: 8, [MP_ENTRY.IOAPIC]: 8, [MP_ENTRY.IO_INTERRUPT]: 8, [MP_ENTRY.LOCAL_INTERRUPT]: 8 } as const;
/** Interrupt types of I/O and local interrupt entries (spec table 4-10). */
export const MP_INTERRUPT = { INT: 0, NMI: 1, SMI: 2, EXTINT: 3 } as const;

/** Floating pointer structure (spec table 4-1): 16 bytes. */
export const MP_FLOATING_POINTER = {
  size: 16,
  signature: 0, // "_MP_"
  physicalAddress: 4,
  length: 8, // in 16-byte units: 1
  specRevision: 9, // 4 = version 1.4
  checksum: 10,
  feature1: 11, // 0: a configuration table is present (no default configuration)
  feature2: 12, // bit 7 IMCRP: 0 = virtual wire mode (no IMCR at ports 0x22/0x23)
} as const;

/** Configuration table header (spec table 4-2): 44 bytes. */
export const MP_CONFIG_HEADER = {
  size: 44,
  signature: 0, // "PCMP"
  baseTableLength: 4,
  specRevision: 6,
  checksum: 7,
  oemId: 8, // 8 bytes, space-padded
  productId: 16, // 12 bytes, space-padded
  oemTablePointer: 28,
  oemTableSize: 32,
  entryCount: 34,
  lapicAddress: 36,
  extendedTableLength: 40,
  extendedTableChecksum: 42,
} as const;

export const MP_SPEC_REVISION = 4;
const OEM_ID = 'KVMTS';
const PRODUCT_ID = 'KVMTS X86';
/** KVM's LAPIC version (VER register low byte: integrated APIC, xAPIC) and IOAPIC version. */
const LAPIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
/** Processor entry: CPU signature (family 6) and feature flags (FPU, APIC), as Firecracker writes them. */
const CPU_SIGNATURE = 0x600;
const CPU_FEATURES = 0x201;
const CPU_FLAG = { ENABLED: 1, BSP: 2 } as const;
const ISA_BUS_ID = 0;
/** Local interrupt destination "every local APIC". */
const ALL_LAPICS = 0xff;
/** The ISA IRQ wiring (pc-wiring.ts): the MP table and the MADT describe the same one. */
export type MpIsaRouting = IsaRouting;

export interface MpTableOptions {
  /** Number of processors, 1–254 (xAPIC ids; 0xFF is the broadcast id). */
  readonly cpus: number;
  /** The IOAPIC's id. Default `cpus` (the first id after the processors'). */
  readonly ioapicId?: number;
  /** Default 'pc'. */
  readonly isaRouting?: MpIsaRouting;
  /** Where the floating pointer goes; 16-byte aligned, inside MP_TABLE_AREA. Default its base. */
  readonly address?: number;
}

/** What to write into guest memory: two blobs at their addresses. */
export interface MpTable {
  readonly floatingPointer: { readonly gpa: number; readonly bytes: Uint8Array };
  readonly configTable: { readonly gpa: number; readonly bytes: Uint8Array };
}

/** The ISA IRQ → IOAPIC pin assignments of a routing (IRQs without an entry are left out). */
export const mpIsaInterrupts = isaInterrupts;

function ascii(view: Uint8Array, at: number, text: string, width: number): void {
  for (let i = 0; i < width; i++) view[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** The byte that makes the sum of `bytes` 0 modulo 256 (the field itself counted as 0). */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

function checkedOptions(o: MpTableOptions): Required<MpTableOptions> {
  if (typeof o !== 'object' || o === null) throw new ConfigError('mpTable', 'options must be an object');
  const { cpus, ioapicId, isaRouting } = checkedPcWiring('mpTable', o);
  const address = o.address ?? MP_TABLE_AREA.base;
  if (!Number.isInteger(address) || address % 16 !== 0 || address < MP_TABLE_AREA.base || address + mpTableBytes(cpus, isaRouting) > MP_TABLE_AREA.base + MP_TABLE_AREA.size) {
    throw new ConfigError('mpTable.address', `must be 16-byte aligned with the tables inside 0x${MP_TABLE_AREA.base.toString(16)}–0x${(MP_TABLE_AREA.base + MP_TABLE_AREA.size).toString(16)}, got ${describeValue(address)}`);
  }
  return { cpus, ioapicId, isaRouting, address };
}

/** Bytes both structures take for `cpus` processors: the floating pointer, the header and the entries. */
export function mpTableBytes(cpus: number, isaRouting: MpIsaRouting = 'pc'): number {
  const entries =
    cpus * ENTRY_BYTES[MP_ENTRY.PROCESSOR] +
    ENTRY_BYTES[MP_ENTRY.BUS] +
    ENTRY_BYTES[MP_ENTRY.IOAPIC] +
    isaInterrupts(isaRouting).length * ENTRY_BYTES[MP_ENTRY.IO_INTERRUPT] +
    2 * ENTRY_BYTES[MP_ENTRY.LOCAL_INTERRUPT];
  return MP_FLOATING_POINTER.size + MP_CONFIG_HEADER.size + entries;
}

/** The two structures for `options.cpus` processors: vCPU n has APIC id n (kvmts' CPUID normalisation), vCPU 0 is the BSP. */
export function buildMpTable(options: MpTableOptions): MpTable {
  const o = checkedOptions(options);
  const tableGpa = o.address + MP_FLOATING_POINTER.size;
  const isa = isaInterrupts(o.isaRouting);
  const table = new Uint8Array(mpTableBytes(o.cpus, o.isaRouting) - MP_FLOATING_POINTER.size);
  const view = new DataView(table.buffer);
  let at = MP_CONFIG_HEADER.size;
  let entries = 0;
  const entry = (type: number): number => {
    const start = at;
    table[start] = type;
    at += ENTRY_BYTES[type as keyof typeof ENTRY_BYTES];
    entries++;
    return start;
  };

  for (let vcpu = 0; vcpu < o.cpus; vcpu++) {
    const e = entry(MP_ENTRY.PROCESSOR);
    table[e + 1] = processorApicId(vcpu);
    table[e + 2] = LAPIC_VERSION;
    table[e + 3] = CPU_FLAG.ENABLED | (vcpu === 0 ? CPU_FLAG.BSP : 0);
    view.setUint32(e + 4, CPU_SIGNATURE, true);
    view.setUint32(e + 8, CPU_FEATURES, true);
  }
  const bus = entry(MP_ENTRY.BUS);
  table[bus + 1] = ISA_BUS_ID;
  ascii(table, bus + 2, 'ISA', 6);
  const ioapic = entry(MP_ENTRY.IOAPIC);
  table[ioapic + 1] = o.ioapicId;
  table[ioapic + 2] = IOAPIC_VERSION;
  table[ioapic + 3] = 1; // enabled
  view.setUint32(ioapic + 4, X86_IOAPIC_ADDRESS, true);
  for (const { irq, pin } of isa) {
    // Flags 0: polarity and trigger conform to the bus (ISA: active high, edge).
    const e = entry(MP_ENTRY.IO_INTERRUPT);
    table[e + 1] = MP_INTERRUPT.INT;
    table[e + 4] = ISA_BUS_ID;
    table[e + 5] = irq;
    table[e + 6] = o.ioapicId;
    table[e + 7] = pin;
  }
  // The 8259's output on the BSP's LINT0, NMI on every LINT1: how kvmts programs the LAPICs (setup-sequence.ts).
  const extint = entry(MP_ENTRY.LOCAL_INTERRUPT);
  table[extint + 1] = MP_INTERRUPT.EXTINT;
  table[extint + 4] = ISA_BUS_ID;
  table[extint + 6] = processorApicId(0);
  table[extint + 7] = X86_LAPIC_LINT.extInt;
  const nmi = entry(MP_ENTRY.LOCAL_INTERRUPT);
  table[nmi + 1] = MP_INTERRUPT.NMI;
  table[nmi + 4] = ISA_BUS_ID;
  table[nmi + 6] = ALL_LAPICS;
  table[nmi + 7] = X86_LAPIC_LINT.nmi;

  const h = MP_CONFIG_HEADER;
  ascii(table, h.signature, 'PCMP', 4);
  view.setUint16(h.baseTableLength, table.length, true);
  table[h.specRevision] = MP_SPEC_REVISION;
  ascii(table, h.oemId, OEM_ID, 8);
  ascii(table, h.productId, PRODUCT_ID, 12);
  view.setUint16(h.entryCount, entries, true);
  view.setUint32(h.lapicAddress, X86_LAPIC_ADDRESS, true);
  table[h.checksum] = checksum(table);

  const f = MP_FLOATING_POINTER;
  const pointer = new Uint8Array(f.size);
  ascii(pointer, f.signature, '_MP_', 4);
  new DataView(pointer.buffer).setUint32(f.physicalAddress, tableGpa, true);
  pointer[f.length] = 1;
  pointer[f.specRevision] = MP_SPEC_REVISION;
  pointer[f.checksum] = checksum(pointer);
  return { floatingPointer: { gpa: o.address, bytes: pointer }, configTable: { gpa: tableGpa, bytes: table } };
}

/** Both structures as `{ gpa, bytes }` placements (what a flat boot's `data` takes). */
export function mpTablePlacements(table: MpTable): { gpa: number; bytes: Uint8Array }[] {
  return [table.floatingPointer, table.configTable].map(({ gpa, bytes }) => ({ gpa, bytes }));
}

/** Build the MP tables for `options` and write them into guest memory; returns what was written. */
export function writeMpTable(memory: Pick<GuestMemory, 'write'>, options: MpTableOptions): MpTable {
  const table = buildMpTable(options);
  for (const { gpa, bytes } of mpTablePlacements(table)) memory.write(gpa, bytes);
  return table;
}
