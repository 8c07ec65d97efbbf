/** Plugin module '@kvmts/dev-gic/v3-its': the in-kernel vGICv3 with an ITS (MSIs, LPIs). */
import type { DependencyContainer } from 'tsyringe';
import { registerKernelGic } from '../kernel/controller';

export function register(container: DependencyContainer): void {
  registerKernelGic(container, { version: 3, its: true });
}
