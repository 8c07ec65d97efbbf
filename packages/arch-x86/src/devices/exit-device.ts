/**
 * The exit device: a guest-visible "power off with this status" port, like QEMU's isa-debug-exit
 * but without its (v << 1) | 1 status mangling, plus a result register the guest can use to hand
 * one 32-bit value to the host without the host reading vCPU registers.
 *
 *   port + 0..3  write: power off; the status is the value written (1, 2 or 4 bytes, zero-extended)
 *                read:  0
 *   port + 4..7  write: result register (byte lanes merge, so `out dx, eax` at +4 sets all 32 bits)
 *                read:  the result register
 *
 * State lives in `ctx.shared` so the host can read it after the machine stopped
 * (`readExitDeviceState`).
 */
import type { AccessSize, Device, DeviceContext, DevicePlacement, DevicePlugin, DeviceSpec, HighWord } from '@kvmts/core';
import { ConfigError } from '@kvmts/core';
import { ARCH_X86_MODULE } from '../module-name';
import { checkKnownKeys, checkPortBase } from './options';

export interface ExitDeviceOptions {
  /** First of the 8 ports. Default 0xf4 (where QEMU's isa-debug-exit sits). */
  readonly port?: number;
}

export const EXIT_DEVICE_DEFAULT_PORT = 0xf4;
export const EXIT_DEVICE_PORT_COUNT = 8;
/** Offset of the result register from the base port. */
export const EXIT_DEVICE_RESULT_OFFSET = 4;

/** Shared words: flags, exit status, result. */
const W_FLAGS = 0;
const W_STATUS = 1;
const W_RESULT = 2;
const SHARED_BYTES = 16;
const FLAG_EXITED = 1;
const FLAG_RESULT = 2;

/** What the guest told the exit device, read from its shared state on any thread. */
export interface ExitDeviceState {
  /** The guest wrote the exit port. */
  readonly exited: boolean;
  /** The value written there (0 until then). */
  readonly status: number;
  /** The guest wrote the result register. */
  readonly hasResult: boolean;
  /** The result register (unsigned 32-bit). */
  readonly result: number;
}

export function readExitDeviceState(shared: SharedArrayBuffer): ExitDeviceState {
  const words = new Int32Array(shared, 0, SHARED_BYTES / 4);
  const flags = Atomics.load(words, W_FLAGS);
  return {
    exited: (flags & FLAG_EXITED) !== 0,
    status: Atomics.load(words, W_STATUS) >>> 0,
    hasResult: (flags & FLAG_RESULT) !== 0,
    result: Atomics.load(words, W_RESULT) >>> 0,
  };
}

/** Value mask for an access of `size` bytes; PIO is at most 4 bytes wide. */
function sizeMask(size: AccessSize): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

export class ExitDevice implements Device {
  readonly name: string;
  private readonly words: Int32Array;

  constructor(private readonly ctx: DeviceContext) {
    this.name = ctx.name;
    this.words = new Int32Array(ctx.shared, 0, SHARED_BYTES / 4);
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    if (offset < EXIT_DEVICE_RESULT_OFFSET) return 0;
    const shift = 8 * (offset - EXIT_DEVICE_RESULT_OFFSET);
    return ((Atomics.load(this.words, W_RESULT) >>> shift) & sizeMask(size)) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const mask = sizeMask(size);
    if (offset < EXIT_DEVICE_RESULT_OFFSET) {
      const status = (value & mask) >>> 0;
      Atomics.store(this.words, W_STATUS, status | 0);
      Atomics.or(this.words, W_FLAGS, FLAG_EXITED);
      this.ctx.requestPowerOff(status);
      return;
    }
    const shift = 8 * (offset - EXIT_DEVICE_RESULT_OFFSET);
    const laneMask = (mask << shift) >>> 0;
    const old = Atomics.load(this.words, W_RESULT);
    Atomics.store(this.words, W_RESULT, ((old & ~laneMask) | ((value << shift) & laneMask)) | 0);
    Atomics.or(this.words, W_FLAGS, FLAG_RESULT);
  }

  reset(): void {
    for (let i = 0; i < this.words.length; i++) Atomics.store(this.words, i, 0);
  }

  serialize(): ExitDeviceState {
    return readExitDeviceState(this.ctx.shared);
  }

  unserialize(state: unknown): void {
    if (typeof state !== 'object' || state === null) throw new ConfigError('exit-device.state', 'must be an object');
    const s = state as Partial<ExitDeviceState>;
    for (const key of ['status', 'result'] as const) {
      const v = s[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new ConfigError(`exit-device.state.${key}`, `must be an unsigned 32-bit integer, got ${String(v)}`);
      }
    }
    Atomics.store(this.words, W_STATUS, s.status! | 0);
    Atomics.store(this.words, W_RESULT, s.result! | 0);
    Atomics.store(this.words, W_FLAGS, (s.exited ? FLAG_EXITED : 0) | (s.hasResult ? FLAG_RESULT : 0));
  }
}

function checkedPort(options: ExitDeviceOptions | undefined): number {
  const o = options ?? {};
  if (typeof o !== 'object') throw new ConfigError('exit-device', 'options must be an object');
  checkKnownKeys('exit-device', o, ['port']);
  return checkPortBase('exit-device.port', o.port ?? EXIT_DEVICE_DEFAULT_PORT, EXIT_DEVICE_PORT_COUNT);
}

export const exitDevicePlugin: DevicePlugin<ExitDeviceOptions> = {
  type: 'exit-device',
  sharedStateBytes() {
    return SHARED_BYTES;
  },
  validate(options) {
    checkedPort(options);
  },
  placement(options): DevicePlacement {
    return { pio: [{ base: checkedPort(options), size: EXIT_DEVICE_PORT_COUNT }] };
  },
  create(ctx, options) {
    checkedPort(options);
    return new ExitDevice(ctx);
  },
};

/** A DeviceSpec for the exit device (ports 0xf4–0xfb unless `port` says otherwise). */
export function exitDevice(options: ExitDeviceOptions = {}, name?: string): DeviceSpec<ExitDeviceOptions> {
  return { plugin: ARCH_X86_MODULE, type: exitDevicePlugin.type, ...(name ? { name } : {}), options };
}
