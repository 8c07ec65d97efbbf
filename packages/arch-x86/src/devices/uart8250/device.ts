/**
 * The 16550A as a Device. One instance exists per vCPU thread plus one on the main thread; all
 * registers live in `ctx.shared`, so they are one UART. Each access runs under the UART's
 * SharedLock, together with the interrupt-line update it causes; console bytes go out after the
 * lock is released. Written by hand: no library models a 16550 for a VMM in JavaScript.
 */
import { DeferredEffects, type AccessSize, type Device, type DeviceContext, type HighWord, type SharedLayout } from '@kvmts/core';
import { UartIrqLine, interruptAsserted } from './interrupts';
import { ReceiveRing } from './receive-ring';
import { UartRegisters } from './register-model';
import { resetUartState, type UartFields, type UartState } from './state';

export class Uart8250 implements Device {
  readonly name: string;
  private readonly state: UartState;
  private readonly ring: ReceiveRing;
  private readonly registers: UartRegisters;
  private readonly irqLine: UartIrqLine;
  private readonly effects = new DeferredEffects();

  /** `irq`: the interrupt line (GSI) driven as a level; undefined → polled only. */
  constructor(
    private readonly ctx: DeviceContext,
    layout: SharedLayout<UartFields>,
    irq: number | undefined,
  ) {
    this.name = ctx.name;
    this.state = layout.bind(ctx.shared);
    this.ring = new ReceiveRing(this.state);
    this.registers = new UartRegisters(this.state, this.ring, this.effects);
    this.irqLine = new UartIrqLine(this.state, this.ring, ctx, irq);
    const lock = this.state.lock;
    lock.acquire();
    try {
      // The first instance on a buffer powers the UART on; later ones (other threads) join it.
      if (this.state.initialized === 0) resetUartState(this.state);
    } finally {
      lock.release();
    }
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    // A wider access to an 8-bit device is a run of byte accesses, as on the ISA bus.
    let value = 0;
    const lock = this.state.lock;
    lock.acquire();
    try {
      for (let i = 0; i < size && i < 4; i++) value |= this.registers.read((offset + i) & 7) << (8 * i);
      this.irqLine.update();
    } finally {
      lock.release();
    }
    out.high = 0;
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      for (let i = 0; i < size && i < 4; i++) this.registers.write((offset + i) & 7, (value >>> (8 * i)) & 0xff);
      this.irqLine.update();
    } finally {
      lock.release();
      this.effects.deliver(this.ctx);
    }
  }

  /** The level the UART's interrupt output has now, from its registers (read under the lock). */
  interruptAsserted(): boolean {
    const lock = this.state.lock;
    lock.acquire();
    try {
      return interruptAsserted(this.state, this.ring);
    } finally {
      lock.release();
    }
  }

  /** Host → guest bytes, raising the RX interrupt at once if it becomes pending. Returns bytes accepted. */
  pushInput(data: Uint8Array): number {
    const lock = this.state.lock;
    lock.acquire();
    try {
      const accepted = this.ring.pushAll(data);
      this.irqLine.update();
      return accepted;
    } finally {
      lock.release();
    }
  }

  reset(): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      resetUartState(this.state);
      this.irqLine.update();
    } finally {
      lock.release();
    }
  }

  afterRestore(): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      this.irqLine.resync();
    } finally {
      lock.release();
    }
  }
}
