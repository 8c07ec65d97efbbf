/**
 * How an arm64 machine finds a userspace GICv2 among its devices, to describe it in the FDT.
 * The device itself lives in a device package (@kvmts/dev-gic), which this package cannot
 * import; the contract between them is this data: a device of type ARM64_GICV2_DEVICE_TYPE whose
 * options may give `distributor` and `cpuInterface` bases (defaults: ARM64_LAYOUT's). The
 * device's plugin validates the options before any boot is built.
 */
import { ConfigError, type DeviceSpec } from '@kvmts/core';
import { ARM64_LAYOUT } from '../layout';
import type { CheckedArm64Options } from '../machine-options';

export const ARM64_GICV2_DEVICE_TYPE = 'gicv2';

export interface Arm64GicV2Frames {
  readonly distributor: number;
  readonly cpuInterface: number;
}

/**
 * The frames of the machine's userspace GICv2, or undefined without one. ConfigError for two of
 * them, or for one next to the in-kernel GIC (a machine has one interrupt controller).
 */
export function userspaceGicV2Frames(devices: readonly DeviceSpec[], options: CheckedArm64Options): Arm64GicV2Frames | undefined {
  const gics = devices.filter((d) => d.type === ARM64_GICV2_DEVICE_TYPE);
  if (gics.length === 0) return undefined;
  if (gics.length > 1) throw new ConfigError('devices', `a machine has one interrupt controller, not ${gics.length} GICv2 devices`);
  if (options.gic === 'kernel') throw new ConfigError('archOptions.gic', "a machine with a userspace GICv2 device has no in-kernel GIC: set gic: 'none'");
  const o = (gics[0].options ?? {}) as Partial<Arm64GicV2Frames>;
  return { distributor: o.distributor ?? ARM64_LAYOUT.gicV2Distributor, cpuInterface: o.cpuInterface ?? ARM64_LAYOUT.gicV2CpuInterface };
}
