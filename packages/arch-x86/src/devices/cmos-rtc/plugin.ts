/** The CMOS/RTC's options, its DevicePlugin and the DeviceSpec builder users compose machines with. */
import { ConfigError, checkDeviceOptions, describeValue, parseSize, type DevicePlacement, type DevicePlugin, type DeviceSpec } from '@kvmts/core';
import { ARCH_X86_MODULE } from '../../module-name';
import { X86_LAYOUT } from '../../layout';
import { checkIntegerInRange } from '../options';
import { CmosRtc, type CmosPowerOn } from './device';
import { CMOS_INDEX_PORT, CMOS_PORT_COUNT } from './registers';
import { cmosRtcLayout } from './state';

export interface CmosRtcOptions {
  /**
   * The machine's RAM (bytes, or a size such as '512M' as MachineConfig.memory takes it), for the
   * memory-size bytes; split at the MMIO hole as x86 machines lay RAM out. Default 0 (the bytes read 0).
   */
  readonly memory?: number | string;
  /** The machine's vCPU count, for byte 0x5f. Default 1. */
  readonly cpus?: number;
  /** The guest clock at power-on: ms since the epoch, or an ISO 8601 date. Default: the host's time (UTC). */
  readonly startTime?: number | string;
}

/** startTime's range: the years 1–9999, which the century and year registers hold. */
const START_TIME_RANGE = { min: -62135596800000 /* 0001-01-01 */, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) } as const;

function checkedPowerOn(options: CmosRtcOptions | undefined): CmosPowerOn {
  const o = checkDeviceOptions('cmos-rtc', options, ['memory', 'cpus', 'startTime']);
  let bytes = 0;
  if (o.memory !== undefined) {
    const parsed = parseSize(o.memory);
    if (parsed === undefined || parsed < 0) throw new ConfigError('cmos-rtc.memory', `must be a size in bytes or like '512M', got ${describeValue(o.memory)}`);
    bytes = parsed;
  }
  const cpus = checkIntegerInRange('cmos-rtc.cpus', o.cpus ?? 1, 1, 256);
  let startTime: number | undefined;
  if (o.startTime !== undefined) {
    startTime = typeof o.startTime === 'string' ? Date.parse(o.startTime) : o.startTime;
    if (typeof startTime !== 'number' || !Number.isFinite(startTime) || startTime < START_TIME_RANGE.min || startTime > START_TIME_RANGE.max) {
      throw new ConfigError('cmos-rtc.startTime', `must be ms since the epoch or an ISO 8601 date in the years 1–9999, got ${describeValue(o.startTime)}`);
    }
  }
  const below = Math.min(bytes, X86_LAYOUT.mmioHoleStart);
  return { memory: { belowFourGiB: below, aboveFourGiB: bytes - below, cpus }, startTime };
}

export const cmosRtcPlugin: DevicePlugin<CmosRtcOptions> = {
  type: 'cmos-rtc',
  sharedLayout() {
    return cmosRtcLayout;
  },
  validate(options) {
    checkedPowerOn(options);
  },
  placement(options): DevicePlacement {
    checkedPowerOn(options);
    return { pio: [{ base: CMOS_INDEX_PORT, size: CMOS_PORT_COUNT }] };
  },
  create(ctx, options) {
    return new CmosRtc(ctx, checkedPowerOn(options));
  },
};

/** A DeviceSpec for the CMOS/RTC at ports 0x70–0x71. */
export function cmosRtc(options: CmosRtcOptions = {}, name?: string): DeviceSpec<CmosRtcOptions> {
  return { plugin: ARCH_X86_MODULE, type: cmosRtcPlugin.type, ...(name ? { name } : {}), options };
}
