/**
 * 8250/16550A UART (x86-64.md §8), the PC's COM port. Transmission is instantaneous: THR bytes
 * go straight to `ctx.consoleWrite` (or, in loopback, into the receive queue), so THR is always
 * empty and LSR idles at THRE|TEMT (0x60). Received bytes come from the host through a ring in
 * shared memory (`uartPushInput`).
 *
 * One instance exists per vCPU thread plus one on the main thread, so every register lives in
 * `ctx.shared` and each access runs under a spin lock there: all instances see one UART.
 * Written by hand: no library models a 16550 for a VMM in JavaScript.
 */
import type { AccessSize, Device, DeviceContext, DevicePlacement, DevicePlugin, DeviceSpec, HighWord } from '@kvmts/core';
import { ConfigError } from '@kvmts/core';
import { lockShared, unlockShared } from './shared-lock';
import { ARCH_X86_MODULE } from '../module-name';
import { checkIntegerInRange, checkKnownKeys, checkPortBase } from './options';

export interface Uart8250Options {
  /** First of the 8 ports. Default 0x3f8 (COM1). */
  readonly port?: number;
  /** Interrupt line (GSI) driven as a level; none → polled only. COM1 uses 4. */
  readonly irq?: number;
  /** Receive queue capacity in bytes, a power of two in [16, 65536]. Default 256. */
  readonly rxQueueBytes?: number;
}

export const UART8250_DEFAULT_PORT = 0x3f8;
export const UART8250_PORT_COUNT = 8;
const DEFAULT_RX_QUEUE_BYTES = 256;

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

/**
 * Shared-state layout. Words (Int32, Atomics): lock, receive-ring read and write counters
 * (free-running, modulo 2^32). Bytes: the registers, then the receive ring from RING_OFFSET.
 */
const W_LOCK = 0;
const W_RX_HEAD = 1;
const W_RX_TAIL = 2;
const B = {
  IER: 16,
  LCR: 17,
  MCR: 18,
  /** Sticky LSR error bits (OE…BI), cleared by reading LSR. */
  LSR_ERR: 19,
  /** MSR delta bits 3:0, cleared by reading MSR. */
  MSR_DELTA: 20,
  SCR: 21,
  DLL: 22,
  DLM: 23,
  FCR: 24,
  /** The THRE interrupt condition (cleared by reading IIR while it is the cause). */
  THRI_PENDING: 25,
  /** Last level driven on the IRQ line, so only changes reach setIrqLine. */
  IRQ_LEVEL: 26,
  /** 0 until some instance applied the reset values (shared memory starts zero-filled). */
  INITIALIZED: 27,
} as const;
const RING_OFFSET = 32;

/** Power-on values (QEMU and Firecracker agree): OUT2 set, divisor 12 (9600 baud). */
const RESET_VALUES: readonly (readonly [offset: number, value: number])[] = [
  [B.IER, 0],
  [B.LCR, 0],
  [B.MCR, UART_MCR.OUT2],
  [B.LSR_ERR, 0],
  [B.MSR_DELTA, 0],
  [B.SCR, 0],
  [B.DLL, 0x0c],
  [B.DLM, 0],
  [B.FCR, 0],
  [B.THRI_PENDING, 0],
];

function ringCapacity(shared: SharedArrayBuffer): number {
  return shared.byteLength - RING_OFFSET;
}

function sharedBytesFor(options: Uart8250Options): number {
  return RING_OFFSET + (options.rxQueueBytes ?? DEFAULT_RX_QUEUE_BYTES);
}

/** Appends to the ring; the caller holds the lock. Returns false (and sets OE) when full. */
function ringPush(words: Int32Array, bytes: Uint8Array, capacity: number, value: number): boolean {
  const head = Atomics.load(words, W_RX_HEAD);
  const tail = Atomics.load(words, W_RX_TAIL);
  if (((tail - head) >>> 0) >= capacity) {
    bytes[B.LSR_ERR] |= UART_LSR.OE;
    return false;
  }
  bytes[RING_OFFSET + ((tail >>> 0) & (capacity - 1))] = value;
  Atomics.store(words, W_RX_TAIL, (tail + 1) | 0);
  return true;
}

/**
 * Host → guest bytes: queue `data` for the guest to read from RBR. Callable from any thread that
 * holds the device's shared buffer. Returns how many bytes fit; the rest are dropped and LSR.OE is
 * set, as a real UART overruns. Without a device instance to drive the line, a newly pending RX
 * interrupt is raised at the guest's next UART access; `Uart8250.pushInput` raises it at once.
 */
export function uartPushInput(shared: SharedArrayBuffer, data: Uint8Array): number {
  const words = new Int32Array(shared, 0, 4);
  const bytes = new Uint8Array(shared);
  const capacity = ringCapacity(shared);
  lockShared(words, W_LOCK);
  try {
    let accepted = 0;
    while (accepted < data.length && ringPush(words, bytes, capacity, data[accepted])) accepted++;
    return accepted;
  } finally {
    unlockShared(words, W_LOCK);
  }
}

export class Uart8250 implements Device {
  readonly name: string;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly capacity: number;

  constructor(
    private readonly ctx: DeviceContext,
    private readonly irq: number | undefined,
  ) {
    this.name = ctx.name;
    this.words = new Int32Array(ctx.shared, 0, 4);
    this.bytes = new Uint8Array(ctx.shared);
    this.capacity = ringCapacity(ctx.shared);
    lockShared(this.words, W_LOCK);
    if (this.bytes[B.INITIALIZED] === 0) this.resetLocked();
    unlockShared(this.words, W_LOCK);
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    // A wider access to an 8-bit device is a run of byte accesses, as on the ISA bus.
    let value = 0;
    lockShared(this.words, W_LOCK);
    try {
      for (let i = 0; i < size && i < 4; i++) value |= this.readRegister((offset + i) & 7) << (8 * i);
      this.updateIrq();
    } finally {
      unlockShared(this.words, W_LOCK);
    }
    out.high = 0;
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    lockShared(this.words, W_LOCK);
    try {
      for (let i = 0; i < size && i < 4; i++) this.writeRegister((offset + i) & 7, (value >>> (8 * i)) & 0xff);
      this.updateIrq();
    } finally {
      unlockShared(this.words, W_LOCK);
    }
  }

  /** Host → guest bytes, raising the RX interrupt at once if it becomes pending. Returns bytes accepted. */
  pushInput(data: Uint8Array): number {
    lockShared(this.words, W_LOCK);
    try {
      let accepted = 0;
      while (accepted < data.length && ringPush(this.words, this.bytes, this.capacity, data[accepted])) accepted++;
      this.updateIrq();
      return accepted;
    } finally {
      unlockShared(this.words, W_LOCK);
    }
  }

  reset(): void {
    lockShared(this.words, W_LOCK);
    try {
      this.resetLocked();
      this.updateIrq();
    } finally {
      unlockShared(this.words, W_LOCK);
    }
  }

  serialize(): Uart8250State {
    lockShared(this.words, W_LOCK);
    try {
      const b = this.bytes;
      const rx: number[] = [];
      const head = Atomics.load(this.words, W_RX_HEAD);
      const count = (Atomics.load(this.words, W_RX_TAIL) - head) >>> 0;
      for (let i = 0; i < count; i++) rx.push(b[RING_OFFSET + ((head + i) & (this.capacity - 1))]);
      return {
        ier: b[B.IER], lcr: b[B.LCR], mcr: b[B.MCR], lsrErrors: b[B.LSR_ERR], msrDelta: b[B.MSR_DELTA],
        scr: b[B.SCR], dll: b[B.DLL], dlm: b[B.DLM], fcr: b[B.FCR], thriPending: b[B.THRI_PENDING], rx,
      };
    } finally {
      unlockShared(this.words, W_LOCK);
    }
  }

  unserialize(state: unknown): void {
    const s = parseUartState(state, this.capacity);
    lockShared(this.words, W_LOCK);
    try {
      const b = this.bytes;
      b[B.IER] = s.ier; b[B.LCR] = s.lcr; b[B.MCR] = s.mcr; b[B.LSR_ERR] = s.lsrErrors; b[B.MSR_DELTA] = s.msrDelta;
      b[B.SCR] = s.scr; b[B.DLL] = s.dll; b[B.DLM] = s.dlm; b[B.FCR] = s.fcr; b[B.THRI_PENDING] = s.thriPending;
      Atomics.store(this.words, W_RX_HEAD, 0);
      Atomics.store(this.words, W_RX_TAIL, 0);
      for (const byte of s.rx) ringPush(this.words, b, this.capacity, byte);
      b[B.INITIALIZED] = 1;
      this.updateIrq();
    } finally {
      unlockShared(this.words, W_LOCK);
    }
  }

  private resetLocked(): void {
    for (const [offset, value] of RESET_VALUES) this.bytes[offset] = value;
    Atomics.store(this.words, W_RX_HEAD, 0);
    Atomics.store(this.words, W_RX_TAIL, 0);
    this.bytes[B.INITIALIZED] = 1;
  }

  private rxCount(): number {
    return (Atomics.load(this.words, W_RX_TAIL) - Atomics.load(this.words, W_RX_HEAD)) >>> 0;
  }

  private dlab(): boolean {
    return (this.bytes[B.LCR] & UART_LCR.DLAB) !== 0;
  }

  /** MSR status bits 7:4: wired to MCR in loopback, else a modem that is present and ready. */
  private modemStatus(mcr: number): number {
    if ((mcr & UART_MCR.LOOP) === 0) return UART_MSR.DCD | UART_MSR.DSR | UART_MSR.CTS;
    return (
      (mcr & UART_MCR.RTS ? UART_MSR.CTS : 0) |
      (mcr & UART_MCR.DTR ? UART_MSR.DSR : 0) |
      (mcr & UART_MCR.OUT1 ? UART_MSR.RI : 0) |
      (mcr & UART_MCR.OUT2 ? UART_MSR.DCD : 0)
    );
  }

  /** The highest-priority pending cause, as IIR bits 3:0. */
  private interruptCause(): number {
    const b = this.bytes;
    const ier = b[B.IER];
    if (ier & UART_IER.RLSI && b[B.LSR_ERR] & UART_LSR.ERRORS) return UART_IIR.RLSI;
    if (ier & UART_IER.RDI && this.rxCount() > 0) return UART_IIR.RDI;
    if (ier & UART_IER.THRI && b[B.THRI_PENDING]) return UART_IIR.THRI;
    if (ier & UART_IER.MSI && b[B.MSR_DELTA]) return UART_IIR.MSI;
    return UART_IIR.NO_INT;
  }

  /** Drives the line only on change. On a PC, MCR.OUT2 gates the UART's interrupt output. */
  private updateIrq(): void {
    if (this.irq === undefined) return;
    const level = this.interruptCause() !== UART_IIR.NO_INT && (this.bytes[B.MCR] & UART_MCR.OUT2) !== 0 ? 1 : 0;
    if (this.bytes[B.IRQ_LEVEL] !== level) {
      this.bytes[B.IRQ_LEVEL] = level;
      this.ctx.setIrqLine(this.irq, level === 1);
    }
  }

  private readRegister(reg: number): number {
    const b = this.bytes;
    switch (reg) {
      case UART_REG.RBR_THR_DLL: {
        if (this.dlab()) return b[B.DLL];
        if (this.rxCount() === 0) return 0;
        const head = Atomics.load(this.words, W_RX_HEAD);
        const value = b[RING_OFFSET + ((head >>> 0) & (this.capacity - 1))];
        Atomics.store(this.words, W_RX_HEAD, (head + 1) | 0);
        return value;
      }
      case UART_REG.IER_DLM:
        return this.dlab() ? b[B.DLM] : b[B.IER];
      case UART_REG.IIR_FCR: {
        const cause = this.interruptCause();
        // Reading IIR acknowledges a THRE interrupt (and only that cause).
        if (cause === UART_IIR.THRI) b[B.THRI_PENDING] = 0;
        return cause | (b[B.FCR] & UART_FCR.ENABLE ? UART_IIR.FIFO_ENABLED : 0);
      }
      case UART_REG.LCR:
        return b[B.LCR];
      case UART_REG.MCR:
        return b[B.MCR];
      case UART_REG.LSR: {
        const value = (this.rxCount() > 0 ? UART_LSR.DR : 0) | b[B.LSR_ERR] | UART_LSR.THRE | UART_LSR.TEMT;
        b[B.LSR_ERR] = 0;
        return value;
      }
      case UART_REG.MSR: {
        const value = this.modemStatus(b[B.MCR]) | b[B.MSR_DELTA];
        b[B.MSR_DELTA] = 0;
        return value;
      }
      default:
        return b[B.SCR];
    }
  }

  private writeRegister(reg: number, value: number): void {
    const b = this.bytes;
    switch (reg) {
      case UART_REG.RBR_THR_DLL:
        if (this.dlab()) {
          b[B.DLL] = value;
        } else {
          if (b[B.MCR] & UART_MCR.LOOP) ringPush(this.words, b, this.capacity, value);
          else this.ctx.consoleWrite(value);
          // The byte left at once, so THR is empty again and THRE is (re)asserted.
          b[B.THRI_PENDING] = 1;
        }
        return;
      case UART_REG.IER_DLM:
        if (this.dlab()) {
          b[B.DLM] = value;
        } else {
          // Enabling THRI while THR is empty (always, here) asserts THRE at once; Linux's
          // UART_BUG_THRE probe checks exactly this.
          if (value & UART_IER.THRI && !(b[B.IER] & UART_IER.THRI)) b[B.THRI_PENDING] = 1;
          b[B.IER] = value & 0x0f;
        }
        return;
      case UART_REG.IIR_FCR:
        if (value & UART_FCR.CLEAR_RX) Atomics.store(this.words, W_RX_HEAD, Atomics.load(this.words, W_RX_TAIL));
        b[B.FCR] = value & (UART_FCR.ENABLE | UART_FCR.TRIGGER_MASK);
        return;
      case UART_REG.LCR:
        b[B.LCR] = value;
        return;
      case UART_REG.MCR: {
        const before = this.modemStatus(b[B.MCR]);
        b[B.MCR] = value & 0x1f;
        const after = this.modemStatus(b[B.MCR]);
        const changed = before ^ after;
        b[B.MSR_DELTA] |=
          (changed & UART_MSR.CTS ? UART_MSR.DCTS : 0) |
          (changed & UART_MSR.DSR ? UART_MSR.DDSR : 0) |
          (changed & UART_MSR.DCD ? UART_MSR.DDCD : 0) |
          // TERI: trailing edge only (RI went from 1 to 0).
          (before & UART_MSR.RI && !(after & UART_MSR.RI) ? UART_MSR.TERI : 0);
        return;
      }
      case UART_REG.SCR:
        b[B.SCR] = value;
        return;
      default:
        // LSR and MSR are read-only (writes are factory-test only on real parts).
        return;
    }
  }
}

/** Checkpoint state of the UART: the registers and the bytes still queued for the guest. */
export interface Uart8250State {
  ier: number;
  lcr: number;
  mcr: number;
  lsrErrors: number;
  msrDelta: number;
  scr: number;
  dll: number;
  dlm: number;
  fcr: number;
  thriPending: number;
  rx: number[];
}

const STATE_BYTE_FIELDS = ['ier', 'lcr', 'mcr', 'lsrErrors', 'msrDelta', 'scr', 'dll', 'dlm', 'fcr', 'thriPending'] as const;

function parseUartState(state: unknown, capacity: number): Uart8250State {
  if (typeof state !== 'object' || state === null) throw new ConfigError('uart8250.state', 'must be an object');
  const s = state as Record<string, unknown>;
  for (const field of STATE_BYTE_FIELDS) checkIntegerInRange(`uart8250.state.${field}`, s[field], 0, 0xff);
  const rx = s.rx;
  if (!Array.isArray(rx) || rx.length > capacity) {
    throw new ConfigError('uart8250.state.rx', `must be an array of at most ${capacity} bytes`);
  }
  rx.forEach((byte, i) => checkIntegerInRange(`uart8250.state.rx[${i}]`, byte, 0, 0xff));
  return s as unknown as Uart8250State;
}

function checkedOptions(options: Uart8250Options | undefined): Required<Omit<Uart8250Options, 'irq'>> & { irq?: number } {
  const o = options ?? {};
  if (typeof o !== 'object') throw new ConfigError('uart8250', 'options must be an object');
  checkKnownKeys('uart8250', o, ['port', 'irq', 'rxQueueBytes']);
  const port = checkPortBase('uart8250.port', o.port ?? UART8250_DEFAULT_PORT, UART8250_PORT_COUNT);
  const rxQueueBytes = checkIntegerInRange('uart8250.rxQueueBytes', o.rxQueueBytes ?? DEFAULT_RX_QUEUE_BYTES, 16, 65536);
  if ((rxQueueBytes & (rxQueueBytes - 1)) !== 0) {
    throw new ConfigError('uart8250.rxQueueBytes', `must be a power of two, got ${rxQueueBytes}`);
  }
  const irq = o.irq === undefined ? undefined : checkIntegerInRange('uart8250.irq', o.irq, 0, 1023);
  return { port, rxQueueBytes, irq };
}

export const uart8250Plugin: DevicePlugin<Uart8250Options> = {
  type: 'uart8250',
  sharedStateBytes(options) {
    return sharedBytesFor(checkedOptions(options));
  },
  validate(options) {
    checkedOptions(options);
  },
  placement(options): DevicePlacement {
    return { pio: [{ base: checkedOptions(options).port, size: UART8250_PORT_COUNT }] };
  },
  create(ctx, options) {
    const o = checkedOptions(options);
    if (ctx.shared.byteLength !== sharedBytesFor(o)) {
      throw new ConfigError('uart8250.rxQueueBytes', `shared state is ${ctx.shared.byteLength} bytes, expected ${sharedBytesFor(o)}`);
    }
    return new Uart8250(ctx, o.irq);
  },
};

/** A DeviceSpec for a 16550A UART (COM1 at 0x3f8 unless `port` says otherwise). */
export function uart8250(options: Uart8250Options = {}, name?: string): DeviceSpec<Uart8250Options> {
  return { plugin: ARCH_X86_MODULE, type: uart8250Plugin.type, ...(name ? { name } : {}), options };
}
