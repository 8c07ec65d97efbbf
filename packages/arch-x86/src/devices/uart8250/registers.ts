/**
 * The 16550A's programming interface (x86-64.md §8): register offsets from the base port and
 * the bits of each register, as the guest sees them.
 */

export const UART8250_DEFAULT_PORT = 0x3f8;
export const UART8250_PORT_COUNT = 8;

/** Register offsets from the base port. Offsets 0 and 1 are the divisor latch while LCR.DLAB is set. */
export const UART_REG = {
  RBR_THR_DLL: 0,
  IER_DLM: 1,
  IIR_FCR: 2,
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;

export const UART_IER = { RDI: 0x01, THRI: 0x02, RLSI: 0x04, MSI: 0x08 } as const;
/** IIR values: bit 0 set = nothing pending; bits 7:6 = 11 while the FIFOs are enabled. */
export const UART_IIR = { NO_INT: 0x01, MSI: 0x00, THRI: 0x02, RDI: 0x04, RLSI: 0x06, FIFO_ENABLED: 0xc0 } as const;
export const UART_FCR = { ENABLE: 0x01, CLEAR_RX: 0x02, CLEAR_TX: 0x04, TRIGGER_MASK: 0xc0 } as const;
export const UART_LCR = { DLAB: 0x80 } as const;
export const UART_MCR = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10 } as const;
export const UART_LSR = { DR: 0x01, OE: 0x02, PE: 0x04, FE: 0x08, BI: 0x10, THRE: 0x20, TEMT: 0x40, ERRORS: 0x1e } as const;
export const UART_MSR = { DCTS: 0x01, DDSR: 0x02, TERI: 0x04, DDCD: 0x08, CTS: 0x10, DSR: 0x20, RI: 0x40, DCD: 0x80 } as const;
