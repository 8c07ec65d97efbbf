import type { GuestMemory, KvmVM, MachineConfig } from '@kvmts/core';
import { loadKernelBoot } from './boot/load';
import type { Arm64InitialState } from './cpu';
import type { Arm64InterruptController } from './gic/interrupt-controller';
import { arm64MachineOptions, type Arm64Boot } from './machine-options';
import { forwardsDeviceIrqLevels } from './gic/device-irq-levels';
import { bindVmVirtualCounter, createVirtualCounterState } from './state/virtual-counter';
import { initVcpus } from './vcpu-init';

/**
 * prepareBoot with the interrupt controller `gicController` (archOptions gic: 'kernel'): vCPU
 * init, then the GIC (after every vCPU), then the boot payload with the GIC's FDT node.
 */
export function prepareArm64Boot(vm: KvmVM, memory: GuestMemory, config: MachineConfig<Arm64Boot>, gicController: Arm64InterruptController): Arm64InitialState[] {
  const options = arm64MachineOptions(config.archOptions);
  const mpidrs = initVcpus(vm);
  const gic = options.gic === 'kernel' ? gicController.create(vm, { mpidrs, irqs: options.gicIrqs, config: config as MachineConfig }) : undefined;
  const virtualCounter = createVirtualCounterState();
  bindVmVirtualCounter(vm, virtualCounter);
  const shared = { virtualCounter, ...(forwardsDeviceIrqLevels(options) ? { forwardDeviceIrqLevels: true } : {}) };
  const states: Arm64InitialState[] = mpidrs.map(() => shared);
  if (config.boot !== undefined) {
    states[0] = { ...shared, registers: loadKernelBoot(config.boot, memory, { vm, mpidrs, options, devices: config.devices ?? [], ...(gic ? { gicNode: gic.fdtNode } : {}) }) };
  }
  return states;
}

