/**
 * One function's configuration space. The guest-writable bits live in shared memory (256 bytes
 * per function, zero at power-on, so a zero-filled buffer is a function just out of reset);
 * everything read-only is derived from the function's description in each thread. A byte reads
 * as `fixed & ~changeable | stored & changeable`, where `changeable` = writable | write-one-to-clear.
 *
 * BAR sizing falls out of the masks: a BAR's writable bits are its address bits above its size,
 * so writing all-ones stores exactly those and reading back gives the size mask with the
 * read-only type bits below it (PCI 3.0 §6.2.5.1).
 */
import { ConfigError } from '../errors/errors';
import {
  PCI_BAR_BITS,
  PCI_BAR_COUNT,
  PCI_COMMAND,
  PCI_CONFIG_SPACE_SIZE,
  PCI_HEADER_TYPE_MULTIFUNCTION,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_WRITE_ONE_TO_CLEAR,
  PCI_TYPE0_HEADER,
  pciBarOffset,
  type PciHeaderRegister,
} from './config-header';
import type { PciBarKind, PciBarSpec, PciFunctionDescription } from './pci-function';

const TWO_32 = 2 ** 32;

/** Size limits per BAR kind (PCI 3.0 §6.2.5.1: I/O BARs decode at most 256 bytes). */
const BAR_SIZE_LIMITS: Record<PciBarKind, { readonly min: number; readonly max: number }> = {
  mem32: { min: 16, max: 2 ** 31 },
  mem64: { min: 16, max: 2 ** 52 },
  io: { min: 4, max: 256 },
};

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function checkUint(setting: string, value: unknown, bits: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new ConfigError(setting, `must be an integer in [0, 0x${(2 ** bits - 1).toString(16)}], got ${String(value)}`);
  }
}

/** Throws ConfigError naming the first field of `d` that a type-0 header cannot hold. */
export function checkPciFunctionDescription(setting: string, d: PciFunctionDescription): void {
  checkUint(`${setting}.vendorId`, d.vendorId, 16);
  // 0xffff is what an absent function reads as: a function with it would be invisible.
  if (d.vendorId === 0xffff) throw new ConfigError(`${setting}.vendorId`, '0xffff means "no function here" to every PCI scan');
  checkUint(`${setting}.deviceId`, d.deviceId, 16);
  checkUint(`${setting}.classCode`, d.classCode, 24);
  checkUint(`${setting}.revisionId`, d.revisionId ?? 0, 8);
  checkUint(`${setting}.subsystemVendorId`, d.subsystemVendorId ?? 0, 16);
  checkUint(`${setting}.subsystemId`, d.subsystemId ?? 0, 16);
  const pin = d.interruptPin ?? 0;
  if (!Number.isInteger(pin) || pin < 0 || pin > 4) throw new ConfigError(`${setting}.interruptPin`, `must be 0 (none) or 1–4 (INTA#–INTD#), got ${String(pin)}`);
  if (!Array.isArray(d.bars) || d.bars.length > PCI_BAR_COUNT) throw new ConfigError(`${setting}.bars`, `must be an array of at most ${PCI_BAR_COUNT} entries`);
  const bars: readonly (PciBarSpec | undefined)[] = d.bars;
  bars.forEach((bar, i) => {
    if (bar === undefined) return;
    const at = `${setting}.bars[${i}]`;
    const limits = Object.hasOwn(BAR_SIZE_LIMITS, bar.kind) ? BAR_SIZE_LIMITS[bar.kind] : undefined;
    if (!limits) throw new ConfigError(`${at}.kind`, `must be 'mem32', 'mem64' or 'io', got ${JSON.stringify(bar.kind)}`);
    if (!isPowerOfTwo(bar.size) || bar.size < limits.min || bar.size > limits.max) {
      throw new ConfigError(`${at}.size`, `a ${bar.kind} BAR decodes a power of two from ${limits.min} to 0x${limits.max.toString(16)} bytes, got ${String(bar.size)}`);
    }
    if (bar.prefetchable && bar.kind === 'io') throw new ConfigError(`${at}.prefetchable`, 'only memory BARs can be prefetchable');
    if (bar.kind === 'mem64') {
      if (i === PCI_BAR_COUNT - 1) throw new ConfigError(at, 'a mem64 BAR takes two registers; BAR 5 has no successor');
      if (bars[i + 1] !== undefined) throw new ConfigError(`${setting}.bars[${i + 1}]`, `must be empty: it holds the upper half of the mem64 BAR ${i}`);
    }
  });
}

/** The low dword of a BAR: its read-only type bits. */
function barTypeBits(bar: PciBarSpec): number {
  if (bar.kind === 'io') return PCI_BAR_BITS.io;
  return (bar.kind === 'mem64' ? PCI_BAR_BITS.mem64 : 0) | (bar.prefetchable ? PCI_BAR_BITS.prefetchable : 0);
}

/** The low dword's writable bits: address bits at and above the size. */
function barLowWritable(bar: PciBarSpec): number {
  if (bar.kind === 'io') return ~(bar.size - 1) & 0xffff & ~PCI_BAR_BITS.ioFlagsMask; // x86 I/O space is 16 bits wide
  return (bar.size >= TWO_32 ? 0 : ~(bar.size - 1) & ~PCI_BAR_BITS.memFlagsMask) >>> 0;
}

/** The upper dword of a mem64 BAR: writable above the size. */
function barHighWritable(bar: PciBarSpec): number {
  return bar.size <= TWO_32 ? 0xffffffff : ~(bar.size / TWO_32 - 1) >>> 0;
}

function putLE(bytes: Uint8Array, offset: number, size: number, value: number): void {
  for (let i = 0; i < size; i++) bytes[offset + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
}

/** A BAR as decoded now: its kind, base and size. */
export interface PciDecodedBar {
  readonly index: number;
  readonly kind: PciBarKind;
  readonly base: number;
  readonly size: number;
}

export class PciConfigSpace {
  /** Per byte: the read-only value, the writable bits, the write-one-to-clear bits. */
  private readonly fixed = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  private readonly writable = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  private readonly clearable = new Uint8Array(PCI_CONFIG_SPACE_SIZE);

  /**
   * `stored` is this function's 256 bytes of shared state (the guest-writable bits); `multiFunction`
   * sets header-type bit 7 (the host knows whether the device has other functions);
   * `interruptStatus` tells the status register whether the function's INTx is asserted.
   */
  constructor(
    readonly description: PciFunctionDescription,
    private readonly stored: Uint8Array,
    multiFunction: boolean,
    private readonly interruptStatus: () => boolean = () => false,
  ) {
    if (stored.length !== PCI_CONFIG_SPACE_SIZE) throw new ConfigError('pci.configSpace', `needs ${PCI_CONFIG_SPACE_SIZE} bytes of state, got ${stored.length}`);
    const d = description;
    const fixedValues: Partial<Record<keyof typeof PCI_TYPE0_HEADER, number>> = {
      vendorId: d.vendorId,
      deviceId: d.deviceId,
      revisionId: d.revisionId ?? 0,
      classCode: d.classCode,
      headerType: multiFunction ? PCI_HEADER_TYPE_MULTIFUNCTION : 0,
      subsystemVendorId: d.subsystemVendorId ?? 0,
      subsystemId: d.subsystemId ?? 0,
      interruptPin: d.interruptPin ?? 0,
    };
    for (const [name, reg] of Object.entries(PCI_TYPE0_HEADER) as [keyof typeof PCI_TYPE0_HEADER, PciHeaderRegister][]) {
      putLE(this.fixed, reg.offset, reg.size, fixedValues[name] ?? 0);
      this.applyAccess(reg);
    }
  }

  private applyAccess(reg: PciHeaderRegister): void {
    const a = reg.access;
    switch (a.kind) {
      case 'ro':
        return;
      case 'rw':
        putLE(this.writable, reg.offset, reg.size, a.mask);
        return;
      case 'status':
        putLE(this.clearable, reg.offset, reg.size, PCI_STATUS_WRITE_ONE_TO_CLEAR);
        return;
      case 'command': {
        // Decode enables are hardwired to 0 where the function has no BAR of that kind (§6.2.2).
        const bars = this.description.bars.filter((b): b is PciBarSpec => b !== undefined);
        const io = bars.some((b) => b.kind === 'io') ? PCI_COMMAND.io : 0;
        const memory = bars.some((b) => b.kind !== 'io') ? PCI_COMMAND.memory : 0;
        putLE(this.writable, reg.offset, reg.size, io | memory | PCI_COMMAND.busMaster | PCI_COMMAND.parityErrorResponse | PCI_COMMAND.serr | PCI_COMMAND.interruptDisable);
        return;
      }
      case 'bar': {
        const bar = this.description.bars[a.index];
        const lower = a.index > 0 ? this.description.bars[a.index - 1] : undefined;
        if (bar !== undefined) {
          putLE(this.fixed, reg.offset, 4, barTypeBits(bar));
          putLE(this.writable, reg.offset, 4, barLowWritable(bar));
        } else if (lower?.kind === 'mem64') {
          putLE(this.writable, reg.offset, 4, barHighWritable(lower));
        }
        return;
      }
    }
  }

  /** Read `size` bytes at `offset`, little-endian; bytes past the end of config space read 0xff. */
  read(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.readByte(offset + i);
    return value;
  }

  private readByte(at: number): number {
    if (at >= PCI_CONFIG_SPACE_SIZE) return 0xff;
    const changeable = this.writable[at] | this.clearable[at];
    const value = (this.fixed[at] & ~changeable) | (this.stored[at] & changeable);
    return at === PCI_TYPE0_HEADER.status.offset && this.interruptStatus() ? value | PCI_STATUS_INTERRUPT : value;
  }

  /** Write the low `size` bytes of `value` at `offset`: writable bits take the value, 1s clear RW1C bits. */
  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at >= PCI_CONFIG_SPACE_SIZE) return;
      const byte = (value >>> (8 * i)) & 0xff;
      const w = this.writable[at];
      this.stored[at] = (((this.stored[at] & ~w) | (byte & w)) & ~(byte & this.clearable[at])) & 0xff;
    }
  }

  /** Power-on state: every writable bit 0. */
  reset(): void {
    this.stored.fill(0);
  }

  /** The command register's interrupt-disable bit is clear: an asserted INTx reaches its line. */
  interruptEnabled(): boolean {
    return (this.read(PCI_TYPE0_HEADER.command.offset, 2) & PCI_COMMAND.interruptDisable) === 0;
  }

  /** The command register's decode-enable bit for `kind` is set. */
  decodes(kind: PciBarKind): boolean {
    return (this.read(PCI_TYPE0_HEADER.command.offset, 2) & (kind === 'io' ? PCI_COMMAND.io : PCI_COMMAND.memory)) !== 0;
  }

  /**
   * BAR `index` as the function decodes it now: undefined when there is no BAR there, decode of
   * its kind is off, or its address does not fit a safe integer (a mem64 BAR above 2^53).
   */
  decodedBar(index: number): PciDecodedBar | undefined {
    const bar = this.description.bars[index];
    if (bar === undefined || !this.decodes(bar.kind)) return undefined;
    const low = this.read(pciBarOffset(index), 4);
    if (bar.kind === 'io') return { index, kind: bar.kind, base: low & ~PCI_BAR_BITS.ioFlagsMask, size: bar.size };
    const high = bar.kind === 'mem64' ? this.read(pciBarOffset(index + 1), 4) : 0;
    const base = high * TWO_32 + ((low & ~PCI_BAR_BITS.memFlagsMask) >>> 0);
    if (!Number.isSafeInteger(base + bar.size)) return undefined;
    return { index, kind: bar.kind, base, size: bar.size };
  }
}
