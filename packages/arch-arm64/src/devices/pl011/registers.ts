/**
 * The PL011's programming interface (Arm PrimeCell UART PL011 TRM, DDI 0183): register offsets
 * from the base and the bits of each register, as the guest sees them.
 */

/** One 4 KiB frame. */
export const PL011_BYTES = 0x1000;

export const PL011_REG = {
  DR: 0x000,
  RSR_ECR: 0x004,
  FR: 0x018,
  ILPR: 0x020,
  IBRD: 0x024,
  FBRD: 0x028,
  LCR_H: 0x02c,
  CR: 0x030,
  IFLS: 0x034,
  IMSC: 0x038,
  RIS: 0x03c,
  MIS: 0x040,
  ICR: 0x044,
  DMACR: 0x048,
} as const;

/** UARTFR: flags. */
export const PL011_FR = { BUSY: 1 << 3, RXFE: 1 << 4, TXFF: 1 << 5, RXFF: 1 << 6, TXFE: 1 << 7 } as const;
/** UARTCR bits kvmts acts on. */
export const PL011_CR = { UARTEN: 1 << 0, LBE: 1 << 7, TXE: 1 << 8, RXE: 1 << 9 } as const;
/** Interrupt bits, the same in IMSC, RIS, MIS and ICR. */
export const PL011_INT = { RX: 1 << 4, TX: 1 << 5, RT: 1 << 6, ALL: 0x7ff } as const;

/**
 * PeriphID0–3 and PCellID0–3, one byte per word at 0xFE0–0xFFC: Linux's AMBA bus matches the
 * driver by them (part 0x011, designer 0x41 Arm, revision 1; the PrimeCell preamble 0xB105F00D).
 */
export const PL011_ID_OFFSET = 0xfe0;
export const PL011_ID_BYTES = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1] as const;

/** Power-on values (the TRM's, as QEMU sets them): TX and RX enabled, FIFO trigger levels at half. */
export const PL011_RESET = { cr: PL011_CR.TXE | PL011_CR.RXE, ifls: 0x12 } as const;
