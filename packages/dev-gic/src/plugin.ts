/**
 * Plugin modules of @kvmts/dev-gic (name one in MachineConfig.plugins; a checkpoint records it,
 * so a restore loads the same GIC):
 *   '@kvmts/dev-gic'         the in-kernel vGICv3 (this module's register)
 *   '@kvmts/dev-gic/v3-its'  the vGICv3 with an ITS
 *   '@kvmts/dev-gic/v2'      the vGICv2
 */
import type { DependencyContainer } from 'tsyringe';
import { registerKernelGic } from './kernel/controller';

export const DEV_GIC_MODULE = '@kvmts/dev-gic';
export const DEV_GIC_V3_ITS_MODULE = '@kvmts/dev-gic/v3-its';
export const DEV_GIC_V2_MODULE = '@kvmts/dev-gic/v2';

export function register(container: DependencyContainer): void {
  registerKernelGic(container, { version: 3 });
}
