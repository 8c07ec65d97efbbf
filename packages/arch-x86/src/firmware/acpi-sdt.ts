/**
 * The parts every ACPI system description table shares (ACPI 6.4 §5.2.6): the 36-byte header
 * with kvmts' OEM fields, and the checksum that makes a table's bytes sum to zero. Used by the
 * table builders (acpi-tables.ts, madt.ts).
 */

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

export const ACPI_OEM_ID = 'KVMTS ';
const OEM_TABLE_ID = 'KVMTSX86';
const CREATOR_ID = 'KVMT';

export function acpiAscii(bytes: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
}

/** The byte that makes the sum of `bytes[from, to)` 0 modulo 256 (the checksum field counted as 0). */
export function acpiChecksum(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum = (sum + bytes[i]) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** A table of `length` bytes with its header filled in (the checksum last, by `sealAcpiTable`). */
export function acpiTable(signature: string, length: number, revision: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  const h = ACPI_HEADER;
  acpiAscii(bytes, h.signature, signature);
  view.setUint32(h.length, length, true);
  bytes[h.revision] = revision;
  acpiAscii(bytes, h.oemId, ACPI_OEM_ID);
  acpiAscii(bytes, h.oemTableId, OEM_TABLE_ID);
  view.setUint32(h.oemRevision, 1, true);
  acpiAscii(bytes, h.creatorId, CREATOR_ID);
  view.setUint32(h.creatorRevision, 1, true);
  return { bytes, view };
}

/** Sets the header's checksum over the whole table; returns the table. */
export function sealAcpiTable(bytes: Uint8Array): Uint8Array {
  bytes[ACPI_HEADER.checksum] = acpiChecksum(bytes);
  return bytes;
}
