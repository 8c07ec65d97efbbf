/**
 * Plugin modules of @kvmts/dev-gic (name one in MachineConfig.plugins; a checkpoint records it,
 * so a restore loads the same GIC):
 *   '@kvmts/dev-gic'         the in-kernel vGICv3 as arm64's interrupt controller (for machines
 *                            with gic: 'kernel'), and the userspace GICv2 device type 'gicv2'
 *                            (for machines with gic: 'none'; its device spec, gicV2(), names this module)
 *   '@kvmts/dev-gic/v3-its'  the vGICv3 with an ITS
 *   '@kvmts/dev-gic/v2'      the in-kernel vGICv2
 */
import type { DependencyContainer } from 'tsyringe';
import { DEVICE_PLUGIN } from '@kvmts/core';
import { registerKernelGic } from './kernel/controller';
import { gicV2Plugin } from './gicv2/plugin';
import { DEV_GIC_MODULE } from './module-name';

export { DEV_GIC_MODULE };
export const DEV_GIC_V3_ITS_MODULE = '@kvmts/dev-gic/v3-its';
export const DEV_GIC_V2_MODULE = '@kvmts/dev-gic/v2';

export function register(container: DependencyContainer): void {
  // The controller only matters to a machine with gic: 'kernel'; the device type only to one
  // whose devices name it. Registering both keeps one module name for the package.
  registerKernelGic(container, { version: 3 });
  container.register(DEVICE_PLUGIN, { useValue: gicV2Plugin });
}
