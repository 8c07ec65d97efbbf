/**
 * `MachineConfig.archOptions` on arm64, checked. gem5's arm64 KVM caveats (gem5-kvm.md §9) are
 * rules here, each a ConfigError naming the option and what to do instead, rather than the
 * comments (and a Python monkey-patch of the timer's FDT node, §11.22) they are in gem5.
 */
import { ConfigError, describeValue } from '@kvmts/core';
import type { Arm64KernelBoot } from './boot/kernel';

/** What `MachineConfig.boot` holds on arm64. */
export type Arm64Boot = Arm64KernelBoot;

export interface Arm64MachineOptions {
  /**
   * 'kernel' (default): KVM's in-kernel vGICv3 (created after the vCPUs, before the first run).
   * 'none': no interrupt controller at all — tiny guests that poll; no in-kernel devices then.
   */
  readonly gic?: 'kernel' | 'none';
  /**
   * INTIDs the vGIC implements (KVM_DEV_ARM_VGIC_GRP_NR_IRQS): 64–992 in steps of 32 (KVM takes
   * at most 1023, vgic-kvm-device.c, and a multiple of 32). Default 128.
   */
  readonly gicIrqs?: number;
  /**
   * The system-register generic timer (CNTV_*, CNTP_*, what Linux uses): 'kernel' (default) is
   * KVM's in-kernel timer, described in the FDT; 'none' leaves it out of the FDT (with gic
   * 'none'). 'simulated' is refused: with KVM only the host kernel can implement it.
   */
  readonly timer?: 'kernel' | 'none' | 'simulated';
}

export type CheckedArm64Options = Required<Omit<Arm64MachineOptions, 'timer'>> & { readonly timer: 'kernel' | 'none' };

const KNOWN = ['gic', 'gicIrqs', 'timer'];
export const ARM64_DEFAULT_GIC_IRQS = 128;
/** The largest multiple of 32 KVM's NR_IRQS takes (its bound is VGIC_MAX_RESERVED, 1023). */
export const ARM64_MAX_GIC_IRQS = 992;

/** `archOptions`, checked; a ConfigError names the bad option. */
export function arm64MachineOptions(raw: unknown): CheckedArm64Options {
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw new ConfigError('archOptions', 'must be an object (Arm64MachineOptions)');
  const o = (raw ?? {}) as Arm64MachineOptions;
  for (const key of Object.keys(o)) {
    if (!KNOWN.includes(key)) throw new ConfigError(`archOptions.${key}`, `unknown arm64 option (known: ${KNOWN.join(', ')})`);
  }
  const gic = o.gic ?? 'kernel';
  if (gic !== 'kernel' && gic !== 'none') throw new ConfigError('archOptions.gic', `must be 'kernel' or 'none', got ${describeValue(gic)}`);
  const gicIrqs = o.gicIrqs ?? ARM64_DEFAULT_GIC_IRQS;
  if (!Number.isInteger(gicIrqs) || gicIrqs < 64 || gicIrqs > ARM64_MAX_GIC_IRQS || gicIrqs % 32 !== 0) {
    throw new ConfigError('archOptions.gicIrqs', `must be 64–${ARM64_MAX_GIC_IRQS} in steps of 32 (KVM_DEV_ARM_VGIC_GRP_NR_IRQS takes at most 1023), got ${describeValue(gicIrqs)}`);
  }
  const timer = o.timer ?? 'kernel';
  if (timer === 'simulated') {
    throw new ConfigError(
      'archOptions.timer',
      "a simulated system-register generic timer cannot work with KVM: the guest's CNTV/CNTP accesses never leave the host " +
        "kernel, which implements that timer itself. Keep timer: 'kernel', and to model a timer in userspace give the machine " +
        'a memory-mapped timer device instead (e.g. an arm,armv7-timer-mem frame on the MMIO bus), whose accesses do exit',
    );
  }
  if (timer !== 'kernel' && timer !== 'none') throw new ConfigError('archOptions.timer', `must be 'kernel' or 'none', got ${describeValue(timer)}`);
  // timer 'kernel' with gic 'none' needs a userspace GIC and KVM_CAP_ARM_USER_IRQ: checked where
  // the devices and KVM are known (gic/device-irq-levels.ts, checkTimerInterruptPath).
  return { gic, gicIrqs, timer };
}
