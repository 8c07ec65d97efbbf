/**
 * arm64 VM-level state as checkpoint components:
 *
 *   arm64.virtual-counter  the VM's virtual count (KVM_REG_ARM_TIMER_CNT: writing it sets
 *                CNTVOFF so the guest's CNTVCT_EL0 reads that value now). Saved as the count at
 *                the VM's last pause (../state/virtual-counter.ts), restored the same way a
 *                resume does: the first vCPU to enter writes it. The guest's virtual time
 *                continues from the saved instant instead of jumping by the time the
 *                checkpoint sat on disk, as x86.clock does for kvmclock.
 *
 * The in-kernel GIC (gic: 'kernel') has state of its own — distributor, redistributors, each
 * vCPU's CPU interface and pending interrupts. The interrupt controller that created it saves
 * it when it offers a checkpoint component (@kvmts/dev-gic's does); the plugin's own minimal
 * vGICv3 does not, so such a machine refuses to checkpoint by name (arm64.vgic-v3), never
 * leaving a checkpoint that would restore with its interrupt state lost.
 */
import { CheckpointError, type CheckpointComponent, type CheckpointContext, type MachineConfig } from '@kvmts/core';
import { Arm64TimerRegId } from '../abi';
import { arm64MachineOptions } from '../machine-options';
import type { Arm64InterruptController } from '../gic/interrupt-controller';
import { OneRegIo } from '../state/one-reg-io';
import { presetVirtualCount, savedVirtualCount, vmVirtualCounterState } from '../state/virtual-counter';

const U64 = (1n << 64n) - 1n;

function counterStateOf(ctx: CheckpointContext): SharedArrayBuffer {
  const shared = vmVirtualCounterState(ctx.vm);
  if (shared === undefined) throw new CheckpointError('arm64.virtual-counter', 'the VM has no virtual-counter state (it was not set up by the arm64 plugin)', { code: 'incompatible' });
  return shared;
}

/** The count right now, from vCPU 0 (only for a VM that never ran: the counter is VM-wide). */
function liveCount(ctx: CheckpointContext): bigint {
  const vcpu = ctx.vm.vcpu(0);
  if (vcpu === undefined) throw new CheckpointError('arm64.virtual-counter', 'the VM has no vCPU 0 to read the counter from', { code: 'not-saveable' });
  const io = new OneRegIo(vcpu.fd);
  try {
    return io.get(Arm64TimerRegId.TIMER_CNT);
  } finally {
    io.close();
  }
}

export const arm64VirtualCounterComponent: CheckpointComponent = {
  name: 'arm64.virtual-counter',
  version: 1,
  save(ctx: CheckpointContext) {
    return { count: savedVirtualCount(counterStateOf(ctx)) ?? liveCount(ctx) };
  },
  restore(ctx: CheckpointContext, state: unknown) {
    const count = typeof state === 'object' && state !== null ? (state as Record<string, unknown>).count : undefined;
    if (typeof count !== 'bigint' || count < 0n || count > U64) {
      throw new CheckpointError('arm64.virtual-counter.count', `expected a 64-bit unsigned bigint, got ${typeof count === 'bigint' ? count : typeof count}`, { code: 'incompatible' });
    }
    presetVirtualCount(counterStateOf(ctx), count);
  },
};

const VGIC_REFUSAL =
  "the in-kernel vGICv3 (archOptions gic: 'kernel') of @kvmts/arch-arm64 holds interrupt state it cannot save: add " +
  "'@kvmts/dev-gic' to the machine's plugins (its vGIC checkpoints), or checkpoint machines with gic: 'none' and a userspace GIC";

/** Stands for the vGICv3 in a machine's components, so a checkpoint of it fails by name instead of leaving the GIC out. */
export const arm64VgicV3Refusal: CheckpointComponent = {
  name: 'arm64.vgic-v3',
  version: 1,
  save() {
    throw new CheckpointError('arm64.vgic-v3', VGIC_REFUSAL, { code: 'not-saveable' });
  },
  restore() {
    throw new CheckpointError('arm64.vgic-v3', VGIC_REFUSAL, { code: 'incompatible' });
  },
};

/**
 * The VM-level state of a machine of `config`: the in-kernel GIC's component (from `controller`,
 * the one that created it; the refusal when it has none), then the virtual counter.
 */
export function arm64VmComponents(config: MachineConfig, controller?: Arm64InterruptController): CheckpointComponent[] {
  const { gic } = arm64MachineOptions(config.archOptions);
  if (gic !== 'kernel') return [arm64VirtualCounterComponent];
  return [controller?.checkpointComponent?.(config) ?? arm64VgicV3Refusal, arm64VirtualCounterComponent];
}
