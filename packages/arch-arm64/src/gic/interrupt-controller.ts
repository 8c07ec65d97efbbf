/**
 * Who creates a machine's in-kernel interrupt controller (archOptions gic: 'kernel'). The arm64
 * plugin resolves ARM64_INTERRUPT_CONTROLLER from the machine's container; without a
 * registration it uses its own minimal vGICv3 (./vgic-v3.ts). A GIC package (@kvmts/dev-gic)
 * registers a fuller one — ITS, vGICv2, interrupt injection, state that checkpoints — without
 * this package depending on it.
 */
import type { InjectionToken } from 'tsyringe';
import type { CheckpointComponent, KvmVM, MachineConfig } from '@kvmts/core';
import type { FdtNode } from '../boot/fdt';
import { gicV3FdtNode } from '../boot/machine-fdt';
import { createVgicV3, vgicV3Frames } from './vgic-v3';

/** What the controller is asked to build, once every vCPU exists and is initialised. */
export interface Arm64GicRequest {
  /** MPIDR_EL1 of each vCPU, by vCPU id. */
  readonly mpidrs: readonly bigint[];
  /** NR_IRQS (archOptions.gicIrqs): INTIDs including the 32 SGIs and PPIs. */
  readonly irqs: number;
  readonly config: MachineConfig;
}

/** The controller a machine got. */
export interface Arm64Gic {
  /** Its devicetree node: an interrupt controller with phandle ARM64_GIC_PHANDLE and 3 interrupt cells. */
  readonly fdtNode: FdtNode;
}

export interface Arm64InterruptController {
  /** For messages: what the controller is. */
  readonly name: string;
  /** Create and initialise the in-kernel GIC of `vm` (all vCPUs exist and are initialised). */
  create(vm: KvmVM, request: Arm64GicRequest): Arm64Gic;
  /**
   * The checkpoint component that saves and restores this controller's state in machines of
   * `config`. Absent: such a machine refuses to checkpoint, naming the vGIC.
   */
  checkpointComponent?(config: MachineConfig): CheckpointComponent;
}

export const ARM64_INTERRUPT_CONTROLLER: InjectionToken<Arm64InterruptController> = Symbol.for('kvmts.arm64.InterruptController');

/** The plugin's own: the minimal vGICv3, whose state kvmts does not save (a checkpoint refuses it by name). */
export const minimalVgicV3Controller: Arm64InterruptController = {
  name: 'the minimal vGICv3 of @kvmts/arch-arm64',
  create(vm, request) {
    createVgicV3(vm, { vcpus: request.mpidrs.length, irqs: request.irqs });
    return { fdtNode: gicV3FdtNode(vgicV3Frames(request.mpidrs.length)) };
  },
};
