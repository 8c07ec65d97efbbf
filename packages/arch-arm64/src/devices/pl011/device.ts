/**
 * The PL011 as a Device. One instance exists per vCPU thread plus one on the main thread; all
 * registers live in `ctx.shared`, so they are one UART. Each access runs under the UART's
 * SharedLock together with the interrupt-line update it causes; console bytes go out after the
 * lock is released. Written by hand: no library models a PL011 for a VMM in JavaScript.
 */
import { DeferredEffects, SharedReceiveRing, type AccessSize, type Device, type DeviceContext, type HighWord, type SharedLayout } from '@kvmts/core';
import { Pl011Registers, rawInterrupts } from './register-model';
import { resetPl011State, type Pl011Fields, type Pl011State } from './state';

const SIZE_MASK: Readonly<Record<AccessSize, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff, 8: 0xffffffff };

export class Pl011 implements Device {
  readonly name: string;
  private readonly state: Pl011State;
  private readonly ring: SharedReceiveRing;
  private readonly registers: Pl011Registers;
  private readonly effects = new DeferredEffects();

  /** `irqLine`: the KVM_IRQ_LINE value of its SPI, driven as a level; undefined → polled only. */
  constructor(
    private readonly ctx: DeviceContext,
    layout: SharedLayout<Pl011Fields>,
    private readonly irqLine: number | undefined,
  ) {
    this.name = ctx.name;
    this.state = layout.bind(ctx.shared);
    this.ring = new SharedReceiveRing(this.state);
    this.registers = new Pl011Registers(this.state, this.ring, this.effects);
    this.locked(() => {
      // The first instance on a buffer powers the UART on; later ones (other threads) join it.
      if (this.state.initialized === 0) resetPl011State(this.state);
    });
  }

  /**
   * Registers are 32-bit words; Linux's driver uses 16-bit accesses. A narrower read returns the
   * addressed bytes of the word; a write is taken at a word's offset (sub-word offsets are ignored).
   */
  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    // The exit path: no closure per access, so the lock is taken here rather than through locked().
    const lock = this.state.lock;
    let value: number;
    lock.acquire();
    try {
      value = this.registers.read(offset & ~3);
      this.drive(false);
    } finally {
      lock.release();
    }
    return ((value >>> (8 * (offset & 3))) & SIZE_MASK[size]) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      if ((offset & 3) === 0) this.registers.write(offset, value & SIZE_MASK[size]);
      // Even an ignored sub-word write is an access: it raises an RX interrupt that input queued
      // through pl011PushInput left pending (found by `npm run fuzz -- pl011`).
      this.drive(false);
    } finally {
      lock.release();
      this.effects.deliver(this.ctx);
    }
  }

  /** Host → guest bytes; raises the RX interrupt at once if it becomes pending. Returns the bytes accepted. */
  pushInput(data: Uint8Array): number {
    return this.locked(() => this.ring.pushAll(data));
  }

  /** The level of the UART's interrupt output now (masked raw status). */
  interruptAsserted(): boolean {
    return this.locked(() => (rawInterrupts(this.state, this.ring) & this.state.imsc) !== 0);
  }

  reset(): void {
    this.locked(() => resetPl011State(this.state));
  }

  afterRestore(): void {
    this.locked(() => this.drive(true));
  }

  /** `body` under the lock, followed (still under it) by the interrupt line update it implies (off the exit path). */
  private locked<T>(body: () => T): T {
    const lock = this.state.lock;
    lock.acquire();
    try {
      const result = body();
      this.drive(false);
      return result;
    } finally {
      lock.release();
    }
  }

  /** Drive the line to what the registers imply: on a change, or always (`force`) after a restore. */
  private drive(force: boolean): void {
    if (this.irqLine === undefined) return;
    const level = (rawInterrupts(this.state, this.ring) & this.state.imsc) !== 0 ? 1 : 0;
    if (!force && this.state.irqLevel === level) return;
    this.state.irqLevel = level;
    this.ctx.setIrqLine(this.irqLine, level === 1);
  }
}
