/**
 * The type-0 PCI configuration header (PCI Local Bus Specification 3.0, §6.1) as a table: where
 * each register sits, how wide it is, and which of its bits the guest may change. Everything
 * else in `config-space.ts` is derived from this table, so a register's behaviour is declared
 * once. Offsets 0x40–0xff (device-specific space) are not in the table: they read as zero.
 */

/** Bytes of configuration space per function (conventional PCI; PCIe's extended 4 KiB is not modelled). */
export const PCI_CONFIG_SPACE_SIZE = 256;
/** Devices per bus and functions per device. */
export const PCI_DEVICES_PER_BUS = 32;
export const PCI_FUNCTIONS_PER_DEVICE = 8;
/** BAR registers in a type-0 header, at 0x10, 0x14, … 0x24. */
export const PCI_BAR_COUNT = 6;

/** Command register bits (offset 0x04). */
export const PCI_COMMAND = {
  io: 1 << 0,
  memory: 1 << 1,
  busMaster: 1 << 2,
  parityErrorResponse: 1 << 6,
  serr: 1 << 8,
  interruptDisable: 1 << 10,
} as const;

/** Status register bit 3: the function's INTx is asserted (read-only; set even while interrupt-disable masks it). */
export const PCI_STATUS_INTERRUPT = 1 << 3;
/** Status register bits the guest clears by writing 1 (offset 0x06): parity, aborts, SERR. */
export const PCI_STATUS_WRITE_ONE_TO_CLEAR = 0xf900;

/** BAR low bits: bit 0 says I/O; memory BARs carry their type in bits 2:1 and prefetchable in bit 3. */
export const PCI_BAR_BITS = {
  io: 0x1,
  mem64: 0x4,
  prefetchable: 0x8,
  /** Address bits start above these in a memory BAR… */
  memFlagsMask: 0xf,
  /** …and in an I/O BAR. */
  ioFlagsMask: 0x3,
} as const;

/** Header type 0 (a device, not a bridge); bit 7 marks a multi-function device. */
export const PCI_HEADER_TYPE_MULTIFUNCTION = 0x80;

/**
 * How the guest may change a register: 'ro' never; 'rw' the bits in `mask`; 'command' the bits
 * of the command register the function implements (I/O and memory decode only with BARs of that
 * kind); 'status' clears the write-one-to-clear bits; 'bar' follows the function's BAR table.
 */
export type PciRegisterAccess = { readonly kind: 'ro' } | { readonly kind: 'rw'; readonly mask: number } | { readonly kind: 'command' } | { readonly kind: 'status' } | { readonly kind: 'bar'; readonly index: number };

export interface PciHeaderRegister {
  readonly offset: number;
  readonly size: 1 | 2 | 3 | 4;
  readonly access: PciRegisterAccess;
}

const RO = { kind: 'ro' } as const;

/** The type-0 header, 0x00–0x3f. Read-only values come from the function's description. */
export const PCI_TYPE0_HEADER = {
  vendorId: { offset: 0x00, size: 2, access: RO },
  deviceId: { offset: 0x02, size: 2, access: RO },
  command: { offset: 0x04, size: 2, access: { kind: 'command' } },
  status: { offset: 0x06, size: 2, access: { kind: 'status' } },
  revisionId: { offset: 0x08, size: 1, access: RO },
  /** Programming interface, sub-class, base class: three bytes, 0x09–0x0b. */
  classCode: { offset: 0x09, size: 3, access: RO },
  cacheLineSize: { offset: 0x0c, size: 1, access: { kind: 'rw', mask: 0xff } },
  latencyTimer: { offset: 0x0d, size: 1, access: { kind: 'rw', mask: 0xff } },
  headerType: { offset: 0x0e, size: 1, access: RO },
  bist: { offset: 0x0f, size: 1, access: RO },
  bar0: { offset: 0x10, size: 4, access: { kind: 'bar', index: 0 } },
  bar1: { offset: 0x14, size: 4, access: { kind: 'bar', index: 1 } },
  bar2: { offset: 0x18, size: 4, access: { kind: 'bar', index: 2 } },
  bar3: { offset: 0x1c, size: 4, access: { kind: 'bar', index: 3 } },
  bar4: { offset: 0x20, size: 4, access: { kind: 'bar', index: 4 } },
  bar5: { offset: 0x24, size: 4, access: { kind: 'bar', index: 5 } },
  cardbusCisPointer: { offset: 0x28, size: 4, access: RO },
  subsystemVendorId: { offset: 0x2c, size: 2, access: RO },
  subsystemId: { offset: 0x2e, size: 2, access: RO },
  /** No expansion ROM: hardwired to zero, which is how a function says it has none. */
  expansionRomBase: { offset: 0x30, size: 4, access: RO },
  capabilitiesPointer: { offset: 0x34, size: 1, access: RO },
  interruptLine: { offset: 0x3c, size: 1, access: { kind: 'rw', mask: 0xff } },
  interruptPin: { offset: 0x3d, size: 1, access: RO },
  minGrant: { offset: 0x3e, size: 1, access: RO },
  maxLatency: { offset: 0x3f, size: 1, access: RO },
} as const satisfies Record<string, PciHeaderRegister>;

/** Config-space offset of BAR `index`. */
export function pciBarOffset(index: number): number {
  return PCI_TYPE0_HEADER.bar0.offset + 4 * index;
}
