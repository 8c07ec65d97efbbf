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
 * (`readExitDeviceState`), without the lock: its words are atomic. Writers take the lock so that
 * two vCPUs merging byte lanes into the result do not lose each other's bytes; the power-off
 * request goes out after the lock is released.
 */
import {
  DeferredEffects,
  checkDeviceOptions,
  defineSharedLayout,
  type AccessSize,
  type Device,
  type DeviceContext,
  type DevicePlacement,
  type DevicePlugin,
  type DeviceSpec,
  type HighWord,
} from '@kvmts/core';
import { ARCH_X86_MODULE } from '../module-name';
import { checkPortBase } from './options';

export interface ExitDeviceOptions {
  /** First of the 8 ports. Default 0xf4 (where QEMU's isa-debug-exit sits). */
  readonly port?: number;
}

export const EXIT_DEVICE_DEFAULT_PORT = 0xf4;
export const EXIT_DEVICE_PORT_COUNT = 8;
/** Offset of the result register from the base port. */
export const EXIT_DEVICE_RESULT_OFFSET = 4;

const EXIT_DEVICE_LAYOUT = defineSharedLayout({
  name: 'exit-device',
  version: 1,
  fields: { lock: 'lock', flags: 'atomic-u32', status: 'atomic-u32', result: 'atomic-u32' },
});
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
  const s = EXIT_DEVICE_LAYOUT.bind(shared);
  const flags = s.flags;
  return { exited: (flags & FLAG_EXITED) !== 0, status: s.status, hasResult: (flags & FLAG_RESULT) !== 0, result: s.result };
}

/** Value mask for an access of `size` bytes; PIO is at most 4 bytes wide. */
function sizeMask(size: AccessSize): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

export class ExitDevice implements Device {
  readonly name: string;
  private readonly state: ReturnType<typeof EXIT_DEVICE_LAYOUT.bind>;
  private readonly effects = new DeferredEffects();

  constructor(private readonly ctx: DeviceContext) {
    this.name = ctx.name;
    this.state = EXIT_DEVICE_LAYOUT.bind(ctx.shared);
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    if (offset < EXIT_DEVICE_RESULT_OFFSET) return 0;
    const shift = 8 * (offset - EXIT_DEVICE_RESULT_OFFSET);
    return ((this.state.result >>> shift) & sizeMask(size)) >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const s = this.state;
    const mask = sizeMask(size);
    s.lock.acquire();
    try {
      if (offset < EXIT_DEVICE_RESULT_OFFSET) {
        const status = (value & mask) >>> 0;
        // Status before the flag: a reader that sees the flag sees the status.
        s.status = status;
        s.flags |= FLAG_EXITED;
        this.effects.requestPowerOff(status);
      } else {
        const shift = 8 * (offset - EXIT_DEVICE_RESULT_OFFSET);
        const laneMask = (mask << shift) >>> 0;
        s.result = (s.result & ~laneMask) | ((value << shift) & laneMask);
        s.flags |= FLAG_RESULT;
      }
    } finally {
      s.lock.release();
      this.effects.deliver(this.ctx);
    }
  }

  reset(): void {
    const s = this.state;
    s.lock.acquire();
    try {
      s.flags = 0;
      s.status = 0;
      s.result = 0;
    } finally {
      s.lock.release();
    }
  }
}

function checkedPort(options: ExitDeviceOptions | undefined): number {
  const o = checkDeviceOptions('exit-device', options, ['port']);
  return checkPortBase('exit-device.port', o.port ?? EXIT_DEVICE_DEFAULT_PORT, EXIT_DEVICE_PORT_COUNT);
}

export const exitDevicePlugin: DevicePlugin<ExitDeviceOptions> = {
  type: 'exit-device',
  sharedLayout() {
    return EXIT_DEVICE_LAYOUT;
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
