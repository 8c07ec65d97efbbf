/** The userspace GICv2's options, its DevicePlugin and the DeviceSpec builder users compose machines with. */
import { ConfigError, checkDeviceOptions, describeValue, type DevicePlacement, type DevicePlugin, type DeviceSpec } from '@kvmts/core';
import { ARM64_DEFAULT_GIC_IRQS, ARM64_GICV2_DEVICE_TYPE, ARM64_LAYOUT } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE } from '../module-name';
import { GicV2Device } from './device';
import { gicV2Layout } from './device-state';
import { GICC_FRAME_BYTES, GICD_FRAME_BYTES } from './registers';
import { checkedGicV2Geometry, type GicV2Geometry } from './storage';

/**
 * Where the frames go by default: QEMU virt's GICv2 addresses (ARM64_LAYOUT). They are where an
 * arm64 machine's in-kernel GICv3 distributor would be, which a machine with this GIC (gic:
 * 'none') has not.
 */
export const GICV2_DEFAULT_BASES = { distributor: ARM64_LAYOUT.gicV2Distributor, cpuInterface: ARM64_LAYOUT.gicV2CpuInterface } as const;

export interface GicV2Options {
  /** CPU interfaces: the machine's vCPU count (1–8). Default 1. */
  readonly cpus?: number;
  /** Interrupts including SGIs and PPIs, 64–1020 (rounded up to a multiple of 32). Default 128. */
  readonly irqs?: number;
  /** Implemented priority bits, 4–8. Default 5. */
  readonly priorityBits?: number;
  /** Guest-physical base of the 4 KiB distributor frame. Default 0x0800_0000. */
  readonly distributor?: number;
  /** Guest-physical base of the 8 KiB CPU-interface frame. Default 0x0801_0000. */
  readonly cpuInterface?: number;
}

export interface CheckedGicV2Options {
  readonly geometry: GicV2Geometry;
  readonly distributor: number;
  readonly cpuInterface: number;
}

const KNOWN = ['cpus', 'irqs', 'priorityBits', 'distributor', 'cpuInterface'];
const FRAME_ALIGN = 0x1000;

function base(setting: string, value: unknown, bytes: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > Number.MAX_SAFE_INTEGER - bytes) {
    throw new ConfigError(setting, `must be a guest-physical address (a non-negative integer), got ${describeValue(value)}`);
  }
  if (value % FRAME_ALIGN !== 0) throw new ConfigError(setting, `must be 4 KiB-aligned, got 0x${value.toString(16)}`);
  return value;
}

/** `options`, checked (ConfigError names the bad one). */
export function checkedGicV2Options(options: GicV2Options | undefined): CheckedGicV2Options {
  const o = checkDeviceOptions('gicv2', options, KNOWN);
  const geometry = checkedGicV2Geometry({ cpus: o.cpus ?? 1, irqs: o.irqs ?? ARM64_DEFAULT_GIC_IRQS, priorityBits: o.priorityBits });
  const distributor = base('gicv2.distributor', o.distributor ?? GICV2_DEFAULT_BASES.distributor, GICD_FRAME_BYTES);
  const cpuInterface = base('gicv2.cpuInterface', o.cpuInterface ?? GICV2_DEFAULT_BASES.cpuInterface, GICC_FRAME_BYTES);
  if (distributor < cpuInterface + GICC_FRAME_BYTES && cpuInterface < distributor + GICD_FRAME_BYTES) {
    throw new ConfigError('gicv2.cpuInterface', `its 8 KiB frame at 0x${cpuInterface.toString(16)} overlaps the distributor's 4 KiB at 0x${distributor.toString(16)}`);
  }
  return { geometry, distributor, cpuInterface };
}

/** The device type name: arm64 machines describe a device of this type in their FDT as a GICv2 (arch-arm64's userspace-gic contract). */
export const GICV2_DEVICE_TYPE = ARM64_GICV2_DEVICE_TYPE;

export const gicV2Plugin: DevicePlugin<GicV2Options> = {
  type: GICV2_DEVICE_TYPE,
  sharedLayout(options) {
    return gicV2Layout(checkedGicV2Options(options).geometry);
  },
  validate(options) {
    checkedGicV2Options(options);
  },
  placement(options): DevicePlacement {
    const o = checkedGicV2Options(options);
    return {
      mmio: [
        { base: o.distributor, size: GICD_FRAME_BYTES },
        { base: o.cpuInterface, size: GICC_FRAME_BYTES },
      ],
    };
  },
  create(ctx, options) {
    const o = checkedGicV2Options(options);
    const layout = gicV2Layout(o.geometry);
    if (ctx.shared.byteLength !== layout.byteLength) throw new ConfigError('gicv2', `shared state is ${ctx.shared.byteLength} bytes, expected ${layout.byteLength}`);
    return new GicV2Device(ctx, layout, o.geometry);
  },
};

/**
 * A DeviceSpec for the userspace GICv2 (distributor at 0x0800_0000, CPU interface at
 * 0x0801_0000 unless the options say otherwise). For arm64 machines with `gic: 'none'`.
 */
export function gicV2(options: GicV2Options = {}, name?: string): DeviceSpec<GicV2Options> {
  return { plugin: DEV_GIC_MODULE, type: GICV2_DEVICE_TYPE, ...(name ? { name } : {}), options };
}
