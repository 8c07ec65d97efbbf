/**
 * A third-party device as a package outside kvmts: one 8-bit scratch register on two PIO ports
 * (written at the first, read back at either). It uses only what @kvmts/core exports, registers
 * through `register(container)` like any plugin module, and keeps no shared state (each vCPU
 * thread's instance has its own latch: enough for one vCPU).
 */
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, DEVICE_PLUGIN, type Device, type DevicePlugin } from '@kvmts/core';

export interface ScratchRegisterOptions {
  readonly port: number;
}

export const scratchRegisterPlugin: DevicePlugin<ScratchRegisterOptions> = {
  type: 'scratch-register',
  validate({ port }) {
    if (!Number.isInteger(port) || port < 0 || port > 0xfffe) throw new ConfigError('port', `${port} is not a PIO port with one more after it`);
  },
  placement({ port }) {
    return { pio: [{ base: port, size: 2 }] };
  },
  create(_ctx, { port }): Device {
    let latch = 0;
    return {
      name: `scratch-register@${port.toString(16)}`,
      read: () => latch,
      write: (_offset, _size, value) => {
        latch = value & 0xff;
      },
    };
  },
};

export function register(container: DependencyContainer): void {
  container.register(DEVICE_PLUGIN, { useValue: scratchRegisterPlugin });
}
