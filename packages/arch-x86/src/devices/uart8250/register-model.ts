/**
 * What a guest's byte access to each UART register does. Transmission is instantaneous: THR
 * bytes go to the console (or, in loopback, into the receive queue) at once, so THR is always
 * empty and LSR idles at THRE|TEMT (0x60). The caller holds the UART's lock, updates the
 * interrupt line after the access, and delivers the queued console bytes after releasing it.
 */
import type { DeferredEffects } from '@kvmts/core';
import { interruptCause } from './interrupts';
import type { ReceiveRing } from './receive-ring';
import { UART_FCR, UART_IER, UART_IIR, UART_LCR, UART_LSR, UART_MCR, UART_MSR, UART_REG } from './registers';
import type { UartState } from './state';

/** MSR status bits 7:4: wired to MCR in loopback, else a modem that is present and ready. */
function modemStatus(mcr: number): number {
  if ((mcr & UART_MCR.LOOP) === 0) return UART_MSR.DCD | UART_MSR.DSR | UART_MSR.CTS;
  return (
    (mcr & UART_MCR.RTS ? UART_MSR.CTS : 0) |
    (mcr & UART_MCR.DTR ? UART_MSR.DSR : 0) |
    (mcr & UART_MCR.OUT1 ? UART_MSR.RI : 0) |
    (mcr & UART_MCR.OUT2 ? UART_MSR.DCD : 0)
  );
}

/** MSR delta bits for a change of modem status from `before` to `after`. */
function modemDeltas(before: number, after: number): number {
  const changed = before ^ after;
  return (
    (changed & UART_MSR.CTS ? UART_MSR.DCTS : 0) |
    (changed & UART_MSR.DSR ? UART_MSR.DDSR : 0) |
    (changed & UART_MSR.DCD ? UART_MSR.DDCD : 0) |
    // TERI: trailing edge only (RI went from 1 to 0).
    (before & UART_MSR.RI && !(after & UART_MSR.RI) ? UART_MSR.TERI : 0)
  );
}

export class UartRegisters {
  constructor(
    private readonly s: UartState,
    private readonly ring: ReceiveRing,
    private readonly effects: DeferredEffects,
  ) {}

  read(reg: number): number {
    const s = this.s;
    switch (reg) {
      case UART_REG.RBR_THR_DLL:
        return this.dlab() ? s.dll : this.ring.pop();
      case UART_REG.IER_DLM:
        return this.dlab() ? s.dlm : s.ier;
      case UART_REG.IIR_FCR: {
        const cause = interruptCause(s, this.ring);
        // Reading IIR acknowledges a THRE interrupt (and only that cause).
        if (cause === UART_IIR.THRI) s.thriPending = 0;
        return cause | (s.fcr & UART_FCR.ENABLE ? UART_IIR.FIFO_ENABLED : 0);
      }
      case UART_REG.LCR:
        return s.lcr;
      case UART_REG.MCR:
        return s.mcr;
      case UART_REG.LSR: {
        const value = (this.ring.count() > 0 ? UART_LSR.DR : 0) | s.lsrErrors | UART_LSR.THRE | UART_LSR.TEMT;
        s.lsrErrors = 0;
        return value;
      }
      case UART_REG.MSR: {
        const value = modemStatus(s.mcr) | s.msrDelta;
        s.msrDelta = 0;
        return value;
      }
      default:
        return s.scr;
    }
  }

  write(reg: number, value: number): void {
    const s = this.s;
    switch (reg) {
      case UART_REG.RBR_THR_DLL:
        if (this.dlab()) {
          s.dll = value;
        } else {
          if (s.mcr & UART_MCR.LOOP) this.ring.push(value);
          else this.effects.consoleWrite(value);
          // The byte left at once, so THR is empty again and THRE is (re)asserted.
          s.thriPending = 1;
        }
        return;
      case UART_REG.IER_DLM:
        if (this.dlab()) {
          s.dlm = value;
        } else {
          // Enabling THRI while THR is empty (always, here) asserts THRE at once; Linux's
          // UART_BUG_THRE probe checks exactly this.
          if (value & UART_IER.THRI && !(s.ier & UART_IER.THRI)) s.thriPending = 1;
          // Linux's driver writes IER when it stops transmitting (THRI off once its buffer is
          // empty; restored after a console write): what it sent is complete, even without a
          // newline, e.g. a shell prompt. Without this the bytes would wait for the next newline.
          this.effects.consoleFlush();
          s.ier = value & 0x0f;
        }
        return;
      case UART_REG.IIR_FCR:
        if (value & UART_FCR.CLEAR_RX) this.ring.clear();
        s.fcr = value & (UART_FCR.ENABLE | UART_FCR.TRIGGER_MASK);
        return;
      case UART_REG.LCR:
        s.lcr = value;
        return;
      case UART_REG.MCR: {
        const before = modemStatus(s.mcr);
        s.mcr = value & 0x1f;
        s.msrDelta |= modemDeltas(before, modemStatus(s.mcr));
        return;
      }
      case UART_REG.SCR:
        s.scr = value;
        return;
      default:
        // LSR and MSR are read-only (writes are factory-test only on real parts).
        return;
    }
  }

  private dlab(): boolean {
    return (this.s.lcr & UART_LCR.DLAB) !== 0;
  }
}
