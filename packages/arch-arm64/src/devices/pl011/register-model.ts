/**
 * What a guest's access to each PL011 register does. Transmission is instantaneous: DR bytes go
 * to the console (or, in loopback, into the receive FIFO) at once, so the TX FIFO is always empty
 * and never full, and the TX interrupt is raised by every write (as QEMU's model does). RX is
 * raised while the receive FIFO holds a byte. The caller holds the lock, updates the interrupt
 * line after the access, and delivers queued console bytes after releasing it.
 */
import type { DeferredEffects, SharedReceiveRing } from '@kvmts/core';
import { PL011_CR, PL011_FR, PL011_ID_BYTES, PL011_ID_OFFSET, PL011_INT, PL011_REG } from './registers';
import type { Pl011State } from './state';

/** Raw interrupt status: the latched bits and RX from the FIFO. */
export function rawInterrupts(s: Pl011State, ring: SharedReceiveRing): number {
  return s.risLatched | (ring.count() > 0 ? PL011_INT.RX : 0);
}

export class Pl011Registers {
  constructor(
    private readonly s: Pl011State,
    private readonly ring: SharedReceiveRing,
    private readonly effects: DeferredEffects,
  ) {}

  /** The 32-bit register at `offset` (a multiple of 4). */
  read(offset: number): number {
    const s = this.s;
    switch (offset) {
      case PL011_REG.DR:
        return this.ring.pop();
      case PL011_REG.FR:
        return PL011_FR.TXFE | (this.ring.count() === 0 ? PL011_FR.RXFE : 0) | (this.ring.full() ? PL011_FR.RXFF : 0);
      case PL011_REG.ILPR:
        return s.ilpr;
      case PL011_REG.IBRD:
        return s.ibrd;
      case PL011_REG.FBRD:
        return s.fbrd;
      case PL011_REG.LCR_H:
        return s.lcrH;
      case PL011_REG.CR:
        return s.cr;
      case PL011_REG.IFLS:
        return s.ifls;
      case PL011_REG.IMSC:
        return s.imsc;
      case PL011_REG.RIS:
        return rawInterrupts(s, this.ring);
      case PL011_REG.MIS:
        return rawInterrupts(s, this.ring) & s.imsc;
      case PL011_REG.DMACR:
        return s.dmacr;
      default:
        // Identification bytes; everything else (RSR with no errors, reserved space) reads 0.
        return offset >= PL011_ID_OFFSET ? PL011_ID_BYTES[(offset - PL011_ID_OFFSET) >> 2] : 0;
    }
  }

  /** Writes the 32-bit register at `offset` (a multiple of 4). */
  write(offset: number, value: number): void {
    const s = this.s;
    switch (offset) {
      case PL011_REG.DR: {
        const byte = value & 0xff;
        if (s.cr & PL011_CR.LBE) this.ring.push(byte);
        else this.effects.consoleWrite(byte);
        s.risLatched |= PL011_INT.TX;
        return;
      }
      case PL011_REG.ILPR:
        s.ilpr = value & 0xff;
        return;
      case PL011_REG.IBRD:
        s.ibrd = value & 0xffff;
        return;
      case PL011_REG.FBRD:
        s.fbrd = value & 0x3f;
        return;
      case PL011_REG.LCR_H:
        s.lcrH = value & 0xff;
        return;
      case PL011_REG.CR:
        s.cr = value & 0xffff;
        return;
      case PL011_REG.IFLS:
        s.ifls = value & 0x3f;
        return;
      case PL011_REG.IMSC:
        // Linux's driver writes IMSC when it starts and stops transmitting (TXIM): what it sent
        // is then complete even without a newline (a shell prompt), so the console is flushed.
        this.effects.consoleFlush();
        s.imsc = value & PL011_INT.ALL;
        return;
      case PL011_REG.ICR:
        s.risLatched &= ~value;
        return;
      case PL011_REG.DMACR:
        s.dmacr = value & 0x7;
        return;
      default:
        // RSR/ECR (no errors to clear), FR, RIS, MIS and the ID registers are read-only.
        return;
    }
  }
}
