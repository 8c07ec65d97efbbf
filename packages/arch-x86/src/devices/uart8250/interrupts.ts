/**
 * The UART's interrupt logic: which cause IIR reports, whether the output is asserted, and
 * driving the interrupt line from that. Callers hold the UART's lock — including around
 * setIrqLine, so levels reach KVM in the order the state changed (see SharedLock).
 */
import type { DeviceContext } from '@kvmts/core';
import type { ReceiveRing } from './receive-ring';
import { UART_IER, UART_IIR, UART_LSR, UART_MCR } from './registers';
import type { UartState } from './state';

/** The highest-priority pending cause, as IIR bits 3:0. */
export function interruptCause(s: UartState, ring: ReceiveRing): number {
  const ier = s.ier;
  if (ier & UART_IER.RLSI && s.lsrErrors & UART_LSR.ERRORS) return UART_IIR.RLSI;
  if (ier & UART_IER.RDI && ring.count() > 0) return UART_IIR.RDI;
  if (ier & UART_IER.THRI && s.thriPending) return UART_IIR.THRI;
  if (ier & UART_IER.MSI && s.msrDelta) return UART_IIR.MSI;
  return UART_IIR.NO_INT;
}

/** The level of the interrupt output: a cause is pending, and MCR.OUT2 — which gates the output on a PC — is set. */
export function interruptAsserted(s: UartState, ring: ReceiveRing): boolean {
  return interruptCause(s, ring) !== UART_IIR.NO_INT && (s.mcr & UART_MCR.OUT2) !== 0;
}

/** The UART's interrupt line (absent: polled only). */
export class UartIrqLine {
  constructor(
    private readonly s: UartState,
    private readonly ring: ReceiveRing,
    private readonly ctx: DeviceContext,
    private readonly line: number | undefined,
  ) {}

  /** Drives the line to what the state implies, if that changed since the last drive. */
  update(): void {
    if (this.line === undefined) return;
    const level = interruptAsserted(this.s, this.ring) ? 1 : 0;
    if (this.s.irqLevel !== level) this.drive(this.line, level);
  }

  /** Drives the line whatever it was last driven to: after a restore the VM's line is not the one the state remembers. */
  resync(): void {
    if (this.line === undefined) return;
    this.drive(this.line, interruptAsserted(this.s, this.ring) ? 1 : 0);
  }

  private drive(line: number, level: number): void {
    this.s.irqLevel = level;
    this.ctx.setIrqLine(line, level === 1);
  }
}
