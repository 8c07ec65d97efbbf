/**
 * KVM's in-kernel generic timers with a userspace GIC (archOptions gic: 'none', timer: 'kernel').
 *
 * Without an in-kernel GIC the timers' PPIs have nowhere to go inside the kernel. With
 * KVM_CAP_ARM_USER_IRQ, KVM instead reports each timer's output level in
 * kvm_run.s.regs.device_irq_level and guarantees a return to userspace (an exit, or an EINTR
 * return) before it runs the vCPU again after a level changed. The vCPU thread forwards every
 * change to its interrupt lines as a PPI of that vCPU, where the userspace GIC that claimed the
 * lines (@kvmts/dev-gic's gicv2 device) takes it like any device's line.
 *
 * gem5 refuses this combination ("in-kernel devices require the in-kernel GIC"); here it is
 * refused only where it cannot work: no userspace GIC among the devices, or a KVM without the
 * capability (checkTimerInterruptPath).
 */
import { ConfigError, type DeviceSpec, type IrqLines } from '@kvmts/core';
import { Arm64DeviceIrqLevel, Arm64RunLayout, encodeIrqLine } from '../abi';
import { ARM64_GICV2_DEVICE_TYPE } from '../boot/userspace-gic';
import type { CheckedArm64Options } from '../machine-options';

/**
 * Which PPI each reported level drives: KVM's default timer PPIs, the ones the FDT's timer node
 * names (virtual 27, non-secure physical 30). kvmts creates no vPMU, so KVM_ARM_DEV_PMU never rises.
 */
export const ARM64_DEVICE_IRQ_PPIS: readonly { readonly bit: number; readonly intid: number; readonly what: string }[] = [
  { bit: Arm64DeviceIrqLevel.EL1_VTIMER, intid: 27, what: 'virtual timer' },
  { bit: Arm64DeviceIrqLevel.EL1_PTIMER, intid: 30, what: 'physical timer' },
];

const LEVEL_MASK = ARM64_DEVICE_IRQ_PPIS.reduce((mask, p) => mask | p.bit, 0);
/** The low byte of the u64 holds every bit kvmts forwards (little-endian). */
const LEVEL_BYTE = Arm64RunLayout.fields['s.regs.device_irq_level'].offset;

/** Does a machine with these options and devices need the timers' levels forwarded to a userspace GIC? */
export function forwardsDeviceIrqLevels(options: CheckedArm64Options): boolean {
  return options.gic === 'none' && options.timer === 'kernel';
}

/**
 * ConfigError unless the in-kernel timer's interrupts can reach the guest: with gic 'kernel' they
 * always can; with gic 'none' a userspace GIC device must be there to take them and KVM must
 * report their levels (`kvmHasUserIrq`: KVM_CHECK_EXTENSION(KVM_CAP_ARM_USER_IRQ) > 0).
 */
export function checkTimerInterruptPath(options: CheckedArm64Options, devices: readonly DeviceSpec[], kvmHasUserIrq: boolean): void {
  if (!forwardsDeviceIrqLevels(options)) return;
  if (!devices.some((d) => d.type === ARM64_GICV2_DEVICE_TYPE)) {
    throw new ConfigError(
      'archOptions.timer',
      "the in-kernel generic timer (timer: 'kernel', the default) raises PPIs, and this machine has no interrupt controller to take them " +
        "(gic: 'none' and no userspace GIC device). Use gic: 'kernel', add a userspace GIC (@kvmts/dev-gic's gicV2()), or timer: 'none' " +
        'for a guest without timer interrupts',
    );
  }
  if (!kvmHasUserIrq) {
    throw new ConfigError(
      'archOptions.timer',
      "this KVM does not report its in-kernel timer's interrupt levels to userspace (no KVM_CAP_ARM_USER_IRQ), so a userspace GIC " +
        "cannot deliver timer interrupts. Use gic: 'kernel', or timer: 'none' for a guest without timer interrupts",
    );
  }
}

/**
 * The vCPU side: before every KVM_RUN entry (so after every exit and every EINTR return), pass
 * each level that changed to `lines` as this vCPU's PPI. Costs one byte read when nothing changed.
 */
export class DeviceIrqLevelForwarder {
  /** The levels last passed on. */
  private forwarded = 0;
  /**
   * Nothing passed on yet: the first update passes every level, even an unchanged 0, because the
   * GIC may hold another one (restored from a checkpoint of a machine whose timer was firing).
   */
  private first = true;
  private readonly ppiLines: readonly number[];

  constructor(
    private readonly runBytes: Uint8Array,
    vcpu: number,
    private readonly lines: IrqLines,
  ) {
    this.ppiLines = ARM64_DEVICE_IRQ_PPIS.map((p) => encodeIrqLine({ type: 'ppi', vcpu, intid: p.intid }));
  }

  /** Forward what changed since the last call. */
  update(): void {
    const levels = this.runBytes[LEVEL_BYTE] & LEVEL_MASK;
    if (levels === this.forwarded && !this.first) return;
    const changed = this.first ? LEVEL_MASK : levels ^ this.forwarded;
    this.forwarded = levels;
    this.first = false;
    // A plain loop: this runs on the exit path at every timer edge (no closure per call).
    for (let i = 0; i < ARM64_DEVICE_IRQ_PPIS.length; i++) {
      const bit = ARM64_DEVICE_IRQ_PPIS[i].bit;
      if (changed & bit) this.lines.set(this.ppiLines[i], (levels & bit) !== 0);
    }
  }

  /** The levels as last forwarded (bits of Arm64DeviceIrqLevel). */
  get levels(): number {
    return this.forwarded;
  }
}
