/** The i8042's options, its DevicePlugin and the DeviceSpec builder users compose machines with. */
import { ConfigError, checkDeviceOptions, type DevicePlacement, type DevicePlugin, type DeviceSpec } from '@kvmts/core';
import { ARCH_X86_MODULE } from '../../module-name';
import { checkIntegerInRange } from '../options';
import { I8042 } from './device';
import { I8042_COMMAND_PORT, I8042_DATA_PORT } from './registers';
import { i8042Layout } from './state';

export interface I8042Options {
  /** Interrupt line (GSI) of keyboard output, driven as a level; none → polled only. PCs use 1. */
  readonly irq?: number;
  /** Interrupt line of aux-port output (the 0xD3 loopback Linux's probe uses); none → not wired. PCs use 12. */
  readonly auxIrq?: number;
}

interface CheckedOptions {
  readonly irq: number | undefined;
  readonly auxIrq: number | undefined;
}

function checkedOptions(options: I8042Options | undefined): CheckedOptions {
  const o = checkDeviceOptions('i8042', options, ['irq', 'auxIrq']);
  const irq = o.irq === undefined ? undefined : checkIntegerInRange('i8042.irq', o.irq, 0, 1023);
  const auxIrq = o.auxIrq === undefined ? undefined : checkIntegerInRange('i8042.auxIrq', o.auxIrq, 0, 1023);
  if (irq !== undefined && irq === auxIrq) throw new ConfigError('i8042.auxIrq', `must differ from i8042.irq (both ${irq}): the keyboard and aux outputs are separate lines`);
  return { irq, auxIrq };
}

export const i8042Plugin: DevicePlugin<I8042Options> = {
  type: 'i8042',
  sharedLayout() {
    return i8042Layout;
  },
  validate(options) {
    checkedOptions(options);
  },
  placement(options): DevicePlacement {
    checkedOptions(options);
    // Two single ports: 0x61–0x63 between them belong to the PIT's speaker gate and others.
    return { pio: [{ base: I8042_DATA_PORT, size: 1 }, { base: I8042_COMMAND_PORT, size: 1 }] };
  },
  create(ctx, options) {
    const o = checkedOptions(options);
    return new I8042(ctx, { keyboard: o.irq, aux: o.auxIrq });
  },
};

/** A DeviceSpec for the PC keyboard controller at 0x60/0x64 (Linux's `reboot=k` resets through it). */
export function i8042(options: I8042Options = {}, name?: string): DeviceSpec<I8042Options> {
  return { plugin: ARCH_X86_MODULE, type: i8042Plugin.type, ...(name ? { name } : {}), options };
}
