/** Plugin module '@kvmts/dev-gic/v2': the in-kernel vGICv2 (hosts whose GIC offers GICv2 compatibility). */
import type { DependencyContainer } from 'tsyringe';
import { registerKernelGic } from '../kernel/controller';

export function register(container: DependencyContainer): void {
  registerKernelGic(container, { version: 2 });
}
