/** Module entry for kvmts: register this package's device plugins in a machine's container. */
import type { DependencyContainer } from 'tsyringe';
import { DEVICE_PLUGIN } from '@kvmts/core';
import { gicV2Plugin } from './gicv2/plugin';

export function register(container: DependencyContainer): void {
  container.register(DEVICE_PLUGIN, { useValue: gicV2Plugin });
}
