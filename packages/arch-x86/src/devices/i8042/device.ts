/**
 * The i8042 as a Device at its two ports (0x60 data, 0x64 status/command: `forRange` gives each
 * range its own view). One instance per vCPU thread plus one on the main thread; the controller
 * lives in `ctx.shared`. Each access runs under the lock together with the interrupt-line
 * updates it causes; a reset request goes out after the lock is released. Written by hand: no
 * library models an 8042 for a VMM in JavaScript.
 */
import { DeferredEffects, type AccessSize, type Device, type DeviceContext, type HighWord } from '@kvmts/core';
import { I8042Controller } from './controller';
import { i8042Layout, resetI8042State, type I8042State } from './state';

/** The interrupt lines (GSIs) the controller drives; undefined → that output is not wired (polled). */
export interface I8042Lines {
  readonly keyboard: number | undefined;
  readonly aux: number | undefined;
}

/** Which port a range serves. */
const Port = { Data: 0, Command: 1 } as const;
type Port = (typeof Port)[keyof typeof Port];

export class I8042 implements Device {
  readonly name: string;
  private readonly state: I8042State;
  private readonly controller: I8042Controller;
  private readonly effects = new DeferredEffects();
  private readonly ports: readonly [Device, Device];

  constructor(
    private readonly ctx: DeviceContext,
    private readonly lines: I8042Lines,
  ) {
    this.name = ctx.name;
    this.state = i8042Layout.bind(ctx.shared);
    this.controller = new I8042Controller(this.state);
    this.ports = [this.portView(Port.Data), this.portView(Port.Command)];
    const lock = this.state.lock;
    lock.acquire();
    try {
      // The first instance on a buffer powers the controller on; later ones (other threads) join it.
      if (this.state.initialized === 0) resetI8042State(this.state);
    } finally {
      lock.release();
    }
  }

  /** Placement order: range 0 is the data port, range 1 the status/command port. */
  forRange(_space: string, index: number): Device {
    return this.ports[index === 0 ? Port.Data : Port.Command];
  }

  /** Unplaced access (tests, host side): offset 0 is the data port, 4 the command port, as at 0x60/0x64. */
  read(offset: number, size: AccessSize, out: HighWord): number {
    return this.access(offset === 4 ? Port.Command : Port.Data, false, size, 0, out);
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    this.access(offset === 4 ? Port.Command : Port.Data, true, size, value, undefined);
  }

  /** The levels the keyboard and aux outputs have now (read under the lock). */
  interruptsAsserted(): { keyboard: boolean; aux: boolean } {
    const lock = this.state.lock;
    lock.acquire();
    try {
      return { keyboard: this.controller.keyboardInterrupt(), aux: this.controller.auxInterrupt() };
    } finally {
      lock.release();
    }
  }

  reset(): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      resetI8042State(this.state);
      this.updateLines(false);
    } finally {
      lock.release();
    }
  }

  afterRestore(): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      this.updateLines(true);
    } finally {
      lock.release();
    }
  }

  private portView(port: Port): Device {
    return {
      name: `${this.name}.${port === Port.Data ? 'data' : 'command'}`,
      read: (_offset, size, out) => this.access(port, false, size, 0, out),
      write: (_offset, size, value) => this.access(port, true, size, value, undefined),
    };
  }

  /**
   * One access. The 8042 is an 8-bit part: only the low byte of a wider access reaches it (the
   * other lanes of a read are all-ones, as on an ISA bus with nothing else there).
   */
  private access(port: Port, isWrite: boolean, size: AccessSize, value: number, out: HighWord | undefined): number {
    const c = this.controller;
    const lock = this.state.lock;
    let result = 0;
    lock.acquire();
    try {
      if (isWrite) {
        if (port === Port.Data) c.writeData(value & 0xff);
        else c.writeCommand(value & 0xff);
        if (c.resetRequested) {
          c.resetRequested = false;
          this.effects.requestReset();
        }
      } else {
        result = port === Port.Data ? c.readData() : c.readStatus();
      }
      this.updateLines(false);
    } finally {
      lock.release();
      this.effects.deliver(this.ctx);
    }
    if (out !== undefined) out.high = 0;
    const widthMask = size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return ((result | (0xffffff00 & widthMask)) & widthMask) >>> 0;
  }

  /** Drive each wired line to its output's level if it changed (or always, after a restore). The caller holds the lock. */
  private updateLines(force: boolean): void {
    const s = this.state;
    const { keyboard, aux } = this.lines;
    if (keyboard !== undefined) {
      const level = this.controller.keyboardInterrupt() ? 1 : 0;
      if (force || s.kbdIrqLevel !== level) {
        s.kbdIrqLevel = level;
        this.ctx.setIrqLine(keyboard, level === 1);
      }
    }
    if (aux !== undefined) {
      const level = this.controller.auxInterrupt() ? 1 : 0;
      if (force || s.auxIrqLevel !== level) {
        s.auxIrqLevel = level;
        this.ctx.setIrqLine(aux, level === 1);
      }
    }
  }
}
