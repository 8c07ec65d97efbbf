/**
 * System control port A (port 0x92, "fast A20 and reset" of PS/2 and later PCs):
 *   bit 0  write 1: reset the CPU (on the rising edge; reads back 0 — the pulse is over)
 *   bit 1  A20 gate (stored only: KVM has no A20 mask, memory above 1 MiB is always visible)
 *   other bits are stored and read back, as QEMU's port92 does.
 * Firmware and boot loaders use bit 0 to reset; the request ends the run as a
 * system reset (DeviceContext.requestReset). Shared state: one byte and a lock.
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

export const SYSTEM_CONTROL_PORT = 0x92;
export const SYSTEM_CONTROL_BITS = { FAST_RESET: 0x01, A20: 0x02 } as const;

const LAYOUT = defineSharedLayout({ name: 'system-control-port', version: 1, fields: { lock: 'lock', value: 'u8' } });

export class SystemControlPort implements Device {
  readonly name: string;
  private readonly state: ReturnType<typeof LAYOUT.bind>;
  private readonly effects = new DeferredEffects();

  constructor(private readonly ctx: DeviceContext) {
    this.name = ctx.name;
    this.state = LAYOUT.bind(ctx.shared);
  }

  read(_offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    const widthMask = size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    // One 8-bit port: the other lanes of a wider read float high.
    return ((this.state.value | (0xffffff00 & widthMask)) & widthMask) >>> 0;
  }

  write(_offset: number, _size: AccessSize, value: number, _valueHigh: number): void {
    const s = this.state;
    s.lock.acquire();
    try {
      const byte = value & 0xff;
      if (byte & SYSTEM_CONTROL_BITS.FAST_RESET) this.effects.requestReset();
      s.value = byte & ~SYSTEM_CONTROL_BITS.FAST_RESET;
    } finally {
      s.lock.release();
      this.effects.deliver(this.ctx);
    }
  }

  reset(): void {
    this.state.lock.acquire();
    this.state.value = 0;
    this.state.lock.release();
  }
}

export type SystemControlPortOptions = Record<string, never>;

function checkOptions(options: SystemControlPortOptions | undefined): void {
  const o = checkDeviceOptions('system-control-port', options, []);
}

export const systemControlPortPlugin: DevicePlugin<SystemControlPortOptions> = {
  type: 'system-control-port',
  sharedLayout() {
    return LAYOUT;
  },
  validate(options) {
    checkOptions(options);
  },
  placement(): DevicePlacement {
    return { pio: [{ base: SYSTEM_CONTROL_PORT, size: 1 }] };
  },
  create(ctx, options) {
    checkOptions(options);
    return new SystemControlPort(ctx);
  },
};

/** A DeviceSpec for port 0x92 (fast A20 gate and CPU reset). */
export function systemControlPort(name?: string): DeviceSpec<SystemControlPortOptions> {
  return { plugin: ARCH_X86_MODULE, type: systemControlPortPlugin.type, ...(name ? { name } : {}), options: {} };
}
