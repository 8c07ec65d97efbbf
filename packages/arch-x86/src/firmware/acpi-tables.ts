/**
 * The smallest set of ACPI tables that lets Linux power an x86 machine off: without ACPI,
 * `poweroff` only halts the CPUs (the kernel has no pm_power_off and turns the request into a
 * halt), which a VMM cannot tell from a hung guest. With an FADT naming a PM1a control block and
 * a DSDT with a `\_S5` package, Linux's ACPI sleep code powers off by writing SLP_TYP|SLP_EN to
 * that block, which the acpi-pm device (devices/acpi-pm.ts) turns into a power-off request.
 *
 * Tables: RSDP → RSDT and XSDT → FADT → FACS and DSDT. No MADT: Linux then keeps taking its
 * processors and IOAPIC from the MP table (firmware/mp-table.ts), as it does without ACPI. Not
 * hardware-reduced ACPI: that mode also drops the legacy PIC and PIT set-up Linux relies on here.
 * Layouts from the ACPI 6.4 specification (§5.2); written by hand, field offsets in the tables below.
 *
 * Where they go: the BIOS area at 0xE0000 (ACPI_TABLE_AREA), below the MP table's 0xF0000; Linux
 * scans 0xE0000–0xFFFFF for the RSDP on 16-byte boundaries, and the e820 map reserves it.
 */
import { ConfigError, describeValue, type GuestMemory } from '@kvmts/core';

/** The guest-physical area the tables occupy (the RSDP at its start). */
export const ACPI_TABLE_AREA = { base: 0xe0000, size: 0x10000 } as const;

/** The common header of every system description table (§5.2.6): 36 bytes. */
export const ACPI_HEADER = {
  size: 36,
  signature: 0,
  length: 4,
  revision: 8,
  checksum: 9,
  oemId: 10, // 6 bytes
  oemTableId: 16, // 8 bytes
  oemRevision: 24,
  creatorId: 28, // 4 bytes
  creatorRevision: 32,
} as const;

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

const OEM_ID = 'KVMTS ';
const OEM_TABLE_ID = 'KVMTSX86';
const CREATOR_ID = 'KVMT';
/** The \_S5 package's SLP_TYP value: what a PM1 control write must carry to mean "power off". */
export const ACPI_S5_SLP_TYP = 5;

export interface AcpiTablesOptions {
  /** I/O port of the PM1a event block (4 bytes), then the control block (2 bytes) right after it. */
  readonly pmBase: number;
  /** ISA IRQ of the SCI (never raised: the machine has no ACPI events). Default 9, as on a PC. */
  readonly sciIrq?: number;
  /** Where the tables go, 16-byte aligned inside ACPI_TABLE_AREA. Default its base. */
  readonly address?: number;
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

function ascii(bytes: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
}

/** The byte that makes the sum of `bytes[from, to)` 0 modulo 256 (the checksum field counted as 0). */
function checksum(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum = (sum + bytes[i]) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** A table of `length` bytes with its header filled in (the checksum last, by `seal`). */
function table(signature: string, length: number, revision: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  const h = ACPI_HEADER;
  ascii(bytes, h.signature, signature);
  view.setUint32(h.length, length, true);
  bytes[h.revision] = revision;
  ascii(bytes, h.oemId, OEM_ID);
  ascii(bytes, h.oemTableId, OEM_TABLE_ID);
  view.setUint32(h.oemRevision, 1, true);
  ascii(bytes, h.creatorId, CREATOR_ID);
  view.setUint32(h.creatorRevision, 1, true);
  return { bytes, view };
}

function seal(bytes: Uint8Array): Uint8Array {
  bytes[ACPI_HEADER.checksum] = checksum(bytes);
  return bytes;
}

/** A Generic Address Structure (§5.2.3.2) for `bytes` bytes of system I/O space at `port`. */
function ioGas(view: DataView, at: number, port: number, bytes: number): void {
  view.setUint8(at, 1); // address space: system I/O
  view.setUint8(at + 1, bytes * 8); // register bit width
  view.setUint8(at + 2, 0); // bit offset
  view.setUint8(at + 3, 2); // access size: word
  view.setBigUint64(at + 4, BigInt(port), true);
}

function checkedOptions(o: AcpiTablesOptions): Required<AcpiTablesOptions> {
  if (typeof o !== 'object' || o === null) throw new ConfigError('acpiTables', 'options must be an object');
  const { pmBase } = o;
  if (typeof pmBase !== 'number' || !Number.isInteger(pmBase) || pmBase < 0 || pmBase + ACPI_PM1.EVT_LEN + ACPI_PM1.CNT_LEN > 0x10000 || pmBase % 4 !== 0) {
    throw new ConfigError('acpiTables.pmBase', `must be a 4-byte aligned I/O port with 6 ports free above it, got ${describeValue(pmBase)}`);
  }
  const sciIrq = o.sciIrq ?? 9;
  if (!Number.isInteger(sciIrq) || sciIrq < 0 || sciIrq > 15) throw new ConfigError('acpiTables.sciIrq', `must be an ISA IRQ in [0, 15], got ${describeValue(sciIrq)}`);
  const address = o.address ?? ACPI_TABLE_AREA.base;
  if (!Number.isInteger(address) || address % 16 !== 0 || address < ACPI_TABLE_AREA.base || address + acpiTablesBytes() > ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size) {
    throw new ConfigError('acpiTables.address', `must be 16-byte aligned with the tables inside 0x${ACPI_TABLE_AREA.base.toString(16)}–0x${(ACPI_TABLE_AREA.base + ACPI_TABLE_AREA.size).toString(16)}, got ${describeValue(address)}`);
  }
  return { pmBase, sciIrq, address };
}

const align = (n: number, to: number) => Math.ceil(n / to) * to;

/** Where each table goes relative to the RSDP (FACS 64-byte aligned, the rest 16). */
function offsets(): { rsdt: number; xsdt: number; fadt: number; facs: number; dsdt: number; end: number } {
  const rsdt = align(ACPI_RSDP.size, 16);
  const xsdt = align(rsdt + ACPI_HEADER.size + 4, 16);
  const fadt = align(xsdt + ACPI_HEADER.size + 8, 16);
  const facs = align(fadt + ACPI_FADT.size, 64);
  const dsdt = align(facs + ACPI_FACS.size, 16);
  return { rsdt, xsdt, fadt, facs, dsdt, end: dsdt + ACPI_HEADER.size + S5_AML.length };
}

/** Bytes the tables span from the RSDP to the end of the DSDT. */
export function acpiTablesBytes(): number {
  return offsets().end;
}

/** The tables for a machine whose acpi-pm device sits at `options.pmBase`. */
export function buildAcpiTables(options: AcpiTablesOptions): AcpiTables {
  const o = checkedOptions(options);
  const off = offsets();
  const at = (k: keyof typeof off) => o.address + off[k];

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

  const rsdt = table('RSDT', ACPI_HEADER.size + 4, 1);
  rsdt.view.setUint32(ACPI_HEADER.size, at('fadt'), true);
  const xsdt = table('XSDT', ACPI_HEADER.size + 8, 1);
  xsdt.view.setBigUint64(ACPI_HEADER.size, BigInt(at('fadt')), true);

  const r = ACPI_RSDP;
  const rsdp = new Uint8Array(r.size);
  const rv = new DataView(rsdp.buffer);
  ascii(rsdp, r.signature, 'RSD PTR ');
  ascii(rsdp, r.oemId, OEM_ID);
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
    ],
  };
}

/** Build the tables for `options` and write them into guest memory; returns what was written. */
export function writeAcpiTables(memory: Pick<GuestMemory, 'write'>, options: AcpiTablesOptions): AcpiTables {
  const tables = buildAcpiTables(options);
  for (const { gpa, bytes } of tables.placements) memory.write(gpa, bytes);
  return tables;
}
