/**
 * The smallest set of ACPI tables that lets Linux power an x86 machine off: without ACPI,
 * `poweroff` only halts the CPUs (the kernel has no pm_power_off and turns the request into a
 * halt), which a VMM cannot tell from a hung guest. With an FADT naming a PM1a control block and
 * a DSDT with a `\_S5` package, Linux's ACPI sleep code powers off by writing SLP_TYP|SLP_EN to
 * that block, which the acpi-pm device (devices/acpi-pm.ts) turns into a power-off request.
 *
 * Tables: RSDP → RSDT and XSDT → FADT → FACS and DSDT, and with `interrupts` the MADT (madt.ts):
 * a kernel that finds ACPI takes its processors and IOAPIC from there, so on a machine with the
 * in-kernel IOAPIC the tables must list every vCPU (the same wiring as the MP table). Not
 * hardware-reduced ACPI: that mode also drops the legacy PIC and PIT set-up Linux relies on here.
 * Layouts from the ACPI 6.4 specification (§5.2); written by hand, field offsets in the tables below.
 *
 * Where they go: the BIOS area at 0xE0000 (ACPI_TABLE_AREA), below the MP table's 0xF0000; Linux
 * scans 0xE0000–0xFFFFF for the RSDP on 16-byte boundaries, and the e820 map reserves it.
 */
import { ConfigError, describeValue, type GuestMemory } from '@kvmts/core';
import { ACPI_HEADER, ACPI_OEM_ID, acpiAscii as ascii, acpiChecksum as checksum, acpiTable as table, sealAcpiTable as seal } from './acpi-sdt';
import { buildMadt, madtBytes, type MadtOptions } from './madt';
import { checkedPcWiring, isaInterrupts, type PcWiring } from './pc-wiring';

/** The guest-physical area the tables occupy (the RSDP at its start). */
export const ACPI_TABLE_AREA = { base: 0xe0000, size: 0x10000 } as const;

export { ACPI_HEADER } from './acpi-sdt';

/** Root System Description Pointer, ACPI 2.0+ form (§5.2.5.3): 36 bytes. */
export const ACPI_RSDP = {
  size: 36,
  signature: 0, // "RSD PTR "
  checksum: 8, // over the first 20 bytes
  oemId: 9,
  revision: 15, // 2: the XSDT fields are there
  rsdtAddress: 16,
  length: 20,
  xsdtAddress: 24,
  extendedChecksum: 32, // over all 36 bytes
} as const;

/** Fixed ACPI Description Table, revision 6 (§5.2.9): the fields this machine sets. */
export const ACPI_FADT = {
  size: 276,
  revision: 6,
  firmwareCtrl: 36,
  dsdt: 40,
  sciInt: 46,
  smiCmd: 48, // 0: no SMI command port, the machine is always in ACPI mode
  pm1aEvtBlk: 56,
  pm1aCntBlk: 64,
  pm1EvtLen: 88,
  pm1CntLen: 89,
  pLvl2Lat: 96, // > 100: no C2 state
  pLvl3Lat: 98, // > 1000: no C3 state
  iapcBootArch: 109,
  flags: 112,
  xFirmwareCtrl: 132,
  xDsdt: 140,
  xPm1aEvtBlk: 148, // Generic Address Structures, 12 bytes each
  xPm1aCntBlk: 172,
} as const;

/** FADT IAPC_BOOT_ARCH bits (§5.2.9.3): legacy devices are present, and an 8042 (Linux then probes it). */
export const ACPI_BOOT_ARCH = { LEGACY_DEVICES: 1 << 0, I8042: 1 << 1 } as const;
/** FADT flags (§5.2.9, table 5.10): WBINVD works, C1 is supported, no power or sleep button. */
export const ACPI_FADT_FLAGS = { WBINVD: 1 << 0, PROC_C1: 1 << 2, PWR_BUTTON: 1 << 4, SLP_BUTTON: 1 << 5 } as const;

/** Firmware ACPI Control Structure (§5.2.10): 64 bytes, 64-byte aligned, no checksum. */
export const ACPI_FACS = { size: 64, signature: 0, length: 4, version: 32 } as const;

/** PM1 register bits the acpi-pm device implements (§4.8.3). */
export const ACPI_PM1 = {
  /** PM1 control: SCI_EN (read as 1: always in ACPI mode), SLP_TYP in bits 10–12, SLP_EN. */
  SCI_EN: 1 << 0,
  SLP_TYP_SHIFT: 10,
  SLP_TYP_MASK: 0x7 << 10,
  SLP_EN: 1 << 13,
  /** Bytes of the event block (status and enable, 16 bits each) and of the control block. */
  EVT_LEN: 4,
  CNT_LEN: 2,
} as const;

/** The \_S5 package's SLP_TYP value: what a PM1 control write must carry to mean "power off". */
export const ACPI_S5_SLP_TYP = 5;

export interface AcpiTablesOptions {
  /** I/O port of the PM1a event block (4 bytes), then the control block (2 bytes) right after it. */
  readonly pmBase: number;
  /** ISA IRQ of the SCI (never raised: the machine has no ACPI events). Default 9, as on a PC. */
  readonly sciIrq?: number;
  /** Where the tables go, 16-byte aligned inside ACPI_TABLE_AREA. Default its base. */
  readonly address?: number;
  /**
   * The processors and the IOAPIC's ISA wiring (pc-wiring.ts), for a machine with the in-kernel
   * IOAPIC: the tables then carry a MADT (madt.ts), where an ACPI kernel finds its CPUs. Without
   * it there is no MADT (a machine without an IOAPIC; Linux then reads the MP table, if any).
   */
  readonly interrupts?: { readonly cpus: number; readonly ioapicId?: number; readonly isaRouting?: PcWiring['isaRouting'] };
}

export interface AcpiTables {
  readonly rsdp: number;
  /** Every table, `{ gpa, bytes }`, in address order. */
  readonly placements: readonly { readonly gpa: number; readonly bytes: Uint8Array; readonly what: string }[];
}

/**
 * The DSDT's AML (§20): `Name (\_S5, Package (4) { 5, 5, 0, 0 })` — the S5 (soft off) sleep
 * type for PM1a and PM1b, the two reserved words zero. Encoded by hand:
 * NameOp, `\` root prefix, NameSeg "_S5_", PackageOp, PkgLength (1 byte: itself, NumElements
 * and the elements), NumElements, BytePrefix 5, BytePrefix 5, ZeroOp, ZeroOp.
 */
export const S5_AML = Uint8Array.from([0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, ACPI_S5_SLP_TYP, 0x0a, ACPI_S5_SLP_TYP, 0x00, 0x00]);

/** A Generic Address Structure (§5.2.3.2) for `bytes` bytes of system I/O space at `port`. */
function ioGas(view: DataView, at: number, port: number, bytes: number): void {
  view.setUint8(at, 1); // address space: system I/O
  view.setUint8(at + 1, bytes * 8); // register bit width
  view.setUint8(at + 2, 0); // bit offset
  view.setUint8(at + 3, 2); // access size: word
  view.setBigUint64(at + 4, BigInt(port), true);
}

interface CheckedOptions {
  readonly pmBase: number;
  readonly sciIrq: number;
  readonly address: number;
  readonly madt?: MadtOptions;
}

function checkedOptions(o: AcpiTablesOptions): CheckedOptions {
  if (typeof o !== 'object' || o === null) throw new ConfigError('acpiTables', 'options must be an object');
  const { pmBase } = o;
  if (typeof pmBase !== 'number' || !Number.isInteger(pmBase) || pmBase < 0 || pmBase + ACPI_PM1.EVT_LEN + ACPI_PM1.CNT_LEN > 0x10000 || pmBase % 4 !== 0) {
    throw new ConfigError('acpiTables.pmBase', `must be a 4-byte aligned I/O port with 6 ports free above it, got ${describeValue(pmBase)}`);
  }
  const sciIrq = o.sciIrq ?? 9;
  if (!Number.isInteger(sciIrq) || sciIrq < 0 || sciIrq > 15) throw new ConfigError('acpiTables.sciIrq', `must be an ISA IRQ in [0, 15], got ${describeValue(sciIrq)}`);
  let madt: MadtOptions | undefined;
  if (o.interrupts !== undefined) {
    if (typeof o.interrupts !== 'object' || o.interrupts === null) throw new ConfigError('acpiTables.interrupts', `must be an object, got ${describeValue(o.interrupts)}`);
    const wiring = checkedPcWiring('acpiTables.interrupts', o.interrupts);
    // The SCI needs a pin of its own: not the PIT's IRQ 0, not an IRQ the routing leaves unwired (the 'pc' cascade, 2).
    if (sciIrq === 0 || !isaInterrupts(wiring.isaRouting).some((e) => e.irq === sciIrq)) {
      throw new ConfigError('acpiTables.sciIrq', `must be an ISA IRQ the '${wiring.isaRouting}' routing wires to an IOAPIC pin, other than the PIT's 0; got ${sciIrq}`);
    }
    madt = { ...wiring, sciIrq };
  }
  const address = o.address ?? ACPI_TABLE_AREA.base;
  if (!Number.isInteger(address) || address % 16 !== 0 || address < ACPI_TABLE_AREA.base || address + acpiTablesBytes(madt) > ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size) {
    throw new ConfigError('acpiTables.address', `must be 16-byte aligned with the tables inside 0x${ACPI_TABLE_AREA.base.toString(16)}–0x${(ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size).toString(16)}, got ${describeValue(address)}`);
  }
  return { pmBase, sciIrq, address, ...(madt ? { madt } : {}) };
}

const align = (n: number, to: number) => Math.ceil(n / to) * to;

interface Offsets {
  readonly rsdt: number;
  readonly xsdt: number;
  readonly fadt: number;
  readonly facs: number;
  readonly dsdt: number;
  readonly madt: number;
  readonly end: number;
}

/**
 * Where each table goes relative to the RSDP (FACS 64-byte aligned, the rest 16). The RSDT and
 * XSDT list the FADT, then the MADT when there is one (placed last, after the DSDT).
 */
function offsets(madt?: MadtOptions): Offsets {
  const listed = madt ? 2 : 1;
  const rsdt = align(ACPI_RSDP.size, 16);
  const xsdt = align(rsdt + ACPI_HEADER.size + 4 * listed, 16);
  const fadt = align(xsdt + ACPI_HEADER.size + 8 * listed, 16);
  const facs = align(fadt + ACPI_FADT.size, 64);
  const dsdt = align(facs + ACPI_FACS.size, 16);
  const dsdtEnd = dsdt + ACPI_HEADER.size + S5_AML.length;
  if (!madt) return { rsdt, xsdt, fadt, facs, dsdt, madt: dsdtEnd, end: dsdtEnd };
  const at = align(dsdtEnd, 16);
  return { rsdt, xsdt, fadt, facs, dsdt, madt: at, end: at + madtBytes(madt) };
}

/** Bytes the tables span from the RSDP to the end of the last table (the MADT's when `madt` is given). */
export function acpiTablesBytes(madt?: MadtOptions): number {
  return offsets(madt).end;
}

/** The tables for a machine whose acpi-pm device sits at `options.pmBase`. */
export function buildAcpiTables(options: AcpiTablesOptions): AcpiTables {
  const o = checkedOptions(options);
  const off = offsets(o.madt);
  const at = (k: keyof Offsets) => o.address + off[k];

  const dsdt = table('DSDT', ACPI_HEADER.size + S5_AML.length, 2); // revision 2: 64-bit integers
  dsdt.bytes.set(S5_AML, ACPI_HEADER.size);

  const facs = new Uint8Array(ACPI_FACS.size);
  ascii(facs, ACPI_FACS.signature, 'FACS');
  new DataView(facs.buffer).setUint32(ACPI_FACS.length, ACPI_FACS.size, true);
  facs[ACPI_FACS.version] = 2;

  const f = ACPI_FADT;
  const fadt = table('FACP', f.size, f.revision);
  fadt.view.setUint32(f.firmwareCtrl, at('facs'), true);
  fadt.view.setUint32(f.dsdt, at('dsdt'), true);
  fadt.view.setUint16(f.sciInt, o.sciIrq, true);
  fadt.view.setUint32(f.smiCmd, 0, true);
  fadt.view.setUint32(f.pm1aEvtBlk, o.pmBase, true);
  fadt.view.setUint32(f.pm1aCntBlk, o.pmBase + ACPI_PM1.EVT_LEN, true);
  fadt.bytes[f.pm1EvtLen] = ACPI_PM1.EVT_LEN;
  fadt.bytes[f.pm1CntLen] = ACPI_PM1.CNT_LEN;
  fadt.view.setUint16(f.pLvl2Lat, 101, true);
  fadt.view.setUint16(f.pLvl3Lat, 1001, true);
  fadt.view.setUint16(f.iapcBootArch, ACPI_BOOT_ARCH.LEGACY_DEVICES | ACPI_BOOT_ARCH.I8042, true);
  fadt.view.setUint32(f.flags, ACPI_FADT_FLAGS.WBINVD | ACPI_FADT_FLAGS.PROC_C1 | ACPI_FADT_FLAGS.PWR_BUTTON | ACPI_FADT_FLAGS.SLP_BUTTON, true);
  // The 64-bit fields say the same as the 32-bit ones (ACPICA warns when they differ).
  fadt.view.setBigUint64(f.xFirmwareCtrl, BigInt(at('facs')), true);
  fadt.view.setBigUint64(f.xDsdt, BigInt(at('dsdt')), true);
  ioGas(fadt.view, f.xPm1aEvtBlk, o.pmBase, ACPI_PM1.EVT_LEN);
  ioGas(fadt.view, f.xPm1aCntBlk, o.pmBase + ACPI_PM1.EVT_LEN, ACPI_PM1.CNT_LEN);

  const listed = [at('fadt'), ...(o.madt ? [at('madt')] : [])];
  const rsdt = table('RSDT', ACPI_HEADER.size + 4 * listed.length, 1);
  listed.forEach((gpa, i) => rsdt.view.setUint32(ACPI_HEADER.size + 4 * i, gpa, true));
  const xsdt = table('XSDT', ACPI_HEADER.size + 8 * listed.length, 1);
  listed.forEach((gpa, i) => xsdt.view.setBigUint64(ACPI_HEADER.size + 8 * i, BigInt(gpa), true));

  const r = ACPI_RSDP;
  const rsdp = new Uint8Array(r.size);
  const rv = new DataView(rsdp.buffer);
  ascii(rsdp, r.signature, 'RSD PTR ');
  ascii(rsdp, r.oemId, ACPI_OEM_ID);
  rsdp[r.revision] = 2;
  rv.setUint32(r.rsdtAddress, at('rsdt'), true);
  rv.setUint32(r.length, r.size, true);
  rv.setBigUint64(r.xsdtAddress, BigInt(at('xsdt')), true);
  rsdp[r.checksum] = checksum(rsdp, 0, 20);
  rsdp[r.extendedChecksum] = checksum(rsdp);

  return {
    rsdp: o.address,
    placements: [
      { what: 'RSDP', gpa: o.address, bytes: rsdp },
      { what: 'RSDT', gpa: at('rsdt'), bytes: seal(rsdt.bytes) },
      { what: 'XSDT', gpa: at('xsdt'), bytes: seal(xsdt.bytes) },
      { what: 'FADT', gpa: at('fadt'), bytes: seal(fadt.bytes) },
      { what: 'FACS', gpa: at('facs'), bytes: facs },
      { what: 'DSDT', gpa: at('dsdt'), bytes: seal(dsdt.bytes) },
      ...(o.madt ? [{ what: 'MADT', gpa: at('madt'), bytes: buildMadt(o.madt) }] : []),
    ],
  };
}

/** Build the tables for `options` and write them into guest memory; returns what was written. */
export function writeAcpiTables(memory: Pick<GuestMemory, 'write'>, options: AcpiTablesOptions): AcpiTables {
  const tables = buildAcpiTables(options);
  for (const { gpa, bytes } of tables.placements) memory.write(gpa, bytes);
  return tables;
}
