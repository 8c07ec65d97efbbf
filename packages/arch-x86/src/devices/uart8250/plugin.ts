/** The UART's options, its DevicePlugin and the DeviceSpec builder users compose machines with. */
import { ConfigError, checkDeviceOptions, type DevicePlacement, type DevicePlugin, type DeviceSpec } from '@kvmts/core';
import { ARCH_X86_MODULE } from '../../module-name';
import { checkIntegerInRange, checkPortBase } from '../options';
import { Uart8250 } from './device';
import { UART8250_DEFAULT_PORT, UART8250_PORT_COUNT } from './registers';
import { UART_RX_QUEUE_BYTES, uart8250Layout } from './state';

export interface Uart8250Options {
  /** First of the 8 ports. Default 0x3f8 (COM1). */
  readonly port?: number;
  /** Interrupt line (GSI) driven as a level; none → polled only. COM1 uses 4. */
  readonly irq?: number;
  /** Receive queue capacity in bytes, a power of two in [16, 65536]. Default 256. */
  readonly rxQueueBytes?: number;
}

interface CheckedOptions {
  readonly port: number;
  readonly irq: number | undefined;
  readonly rxQueueBytes: number;
}

function checkedOptions(options: Uart8250Options | undefined): CheckedOptions {
  const o = checkDeviceOptions('uart8250', options, ['port', 'irq', 'rxQueueBytes']);
  const port = checkPortBase('uart8250.port', o.port ?? UART8250_DEFAULT_PORT, UART8250_PORT_COUNT);
  const { min, max } = UART_RX_QUEUE_BYTES;
  const rxQueueBytes = checkIntegerInRange('uart8250.rxQueueBytes', o.rxQueueBytes ?? UART_RX_QUEUE_BYTES.default, min, max);
  if ((rxQueueBytes & (rxQueueBytes - 1)) !== 0) {
    throw new ConfigError('uart8250.rxQueueBytes', `must be a power of two, got ${rxQueueBytes}`);
  }
  const irq = o.irq === undefined ? undefined : checkIntegerInRange('uart8250.irq', o.irq, 0, 1023);
  return { port, rxQueueBytes, irq };
}

export const uart8250Plugin: DevicePlugin<Uart8250Options> = {
  type: 'uart8250',
  sharedLayout(options) {
    return uart8250Layout(checkedOptions(options).rxQueueBytes);
  },
  validate(options) {
    checkedOptions(options);
  },
  placement(options): DevicePlacement {
    return { pio: [{ base: checkedOptions(options).port, size: UART8250_PORT_COUNT }] };
  },
  create(ctx, options) {
    const o = checkedOptions(options);
    const layout = uart8250Layout(o.rxQueueBytes);
    if (ctx.shared.byteLength !== layout.byteLength) {
      throw new ConfigError('uart8250.rxQueueBytes', `shared state is ${ctx.shared.byteLength} bytes, expected ${layout.byteLength}`);
    }
    return new Uart8250(ctx, layout, o.irq);
  },
};

/** A DeviceSpec for a 16550A UART (COM1 at 0x3f8 unless `port` says otherwise). */
export function uart8250(options: Uart8250Options = {}, name?: string): DeviceSpec<Uart8250Options> {
  return { plugin: ARCH_X86_MODULE, type: uart8250Plugin.type, ...(name ? { name } : {}), options };
}
