/** The PL011's options, its DevicePlugin and the DeviceSpec builder users compose machines with. */
import { ConfigError, checkDeviceOptions, describeValue, type DevicePlacement, type DevicePlugin, type DeviceSpec } from '@kvmts/core';
import { encodeIrqLine } from '../../abi';
import { ARM64_LAYOUT } from '../../layout';
import { ARCH_ARM64_MODULE } from '../../module-name';
import { Pl011 } from './device';
import { PL011_BYTES } from './registers';
import { PL011_RX_QUEUE_BYTES, pl011Layout } from './state';

export interface Pl011Options {
  /** Guest-physical base of its 4 KiB frame. Default 0x0900_0000 (QEMU virt's). */
  readonly base?: number;
  /** Its GIC SPI number as in the FDT (INTID 32 + spi), driven as a level; null → polled only. Default 1. */
  readonly spi?: number | null;
  /** Receive FIFO capacity in bytes, a power of two in [16, 65536]. Default 256. */
  readonly rxQueueBytes?: number;
}

export interface CheckedPl011Options {
  readonly base: number;
  readonly spi: number | undefined;
  readonly rxQueueBytes: number;
}

const KNOWN = ['base', 'spi', 'rxQueueBytes'];
/** SPIs are INTID 32–1019. */
const MAX_SPI = 1019 - 32;

function integerIn(setting: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new ConfigError(setting, `must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  return value;
}

/** `options`, checked (ConfigError names the bad one). Also used by the plugin's FDT. */
export function checkedPl011Options(options: Pl011Options | undefined): CheckedPl011Options {
  const o = checkDeviceOptions('pl011', options, KNOWN);
  const base = integerIn('pl011.base', o.base ?? ARM64_LAYOUT.pl011, 0, Number.MAX_SAFE_INTEGER - PL011_BYTES);
  if (base % PL011_BYTES !== 0) throw new ConfigError('pl011.base', `must be aligned to its ${PL011_BYTES}-byte frame, got 0x${base.toString(16)}`);
  const spi = o.spi === null ? undefined : integerIn('pl011.spi', o.spi ?? ARM64_LAYOUT.pl011Spi, 0, MAX_SPI);
  const rxQueueBytes = integerIn('pl011.rxQueueBytes', o.rxQueueBytes ?? PL011_RX_QUEUE_BYTES.default, PL011_RX_QUEUE_BYTES.min, PL011_RX_QUEUE_BYTES.max);
  if ((rxQueueBytes & (rxQueueBytes - 1)) !== 0) throw new ConfigError('pl011.rxQueueBytes', `must be a power of two, got ${rxQueueBytes}`);
  return { base, spi, rxQueueBytes };
}

export const pl011Plugin: DevicePlugin<Pl011Options> = {
  type: 'pl011',
  sharedLayout(options) {
    return pl011Layout(checkedPl011Options(options).rxQueueBytes);
  },
  validate(options) {
    checkedPl011Options(options);
  },
  placement(options): DevicePlacement {
    return { mmio: [{ base: checkedPl011Options(options).base, size: PL011_BYTES }] };
  },
  create(ctx, options) {
    const o = checkedPl011Options(options);
    const layout = pl011Layout(o.rxQueueBytes);
    if (ctx.shared.byteLength !== layout.byteLength) throw new ConfigError('pl011.rxQueueBytes', `shared state is ${ctx.shared.byteLength} bytes, expected ${layout.byteLength}`);
    return new Pl011(ctx, layout, o.spi === undefined ? undefined : encodeIrqLine({ type: 'spi', intid: 32 + o.spi }));
  },
};

/** A DeviceSpec for a PL011 UART (at 0x0900_0000 with SPI 1 unless the options say otherwise). */
export function pl011(options: Pl011Options = {}, name?: string): DeviceSpec<Pl011Options> {
  return { plugin: ARCH_ARM64_MODULE, type: pl011Plugin.type, ...(name ? { name } : {}), options };
}
