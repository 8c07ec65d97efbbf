/**
 * How application processors (vCPUs 1..n) begin. KVM creates them, with an in-kernel irqchip,
 * in KVM_MP_STATE_UNINITIALIZED: they sleep in KVM_RUN until an INIT and a SIPI arrive. A flat
 * boot enters every vCPU at once instead (apStart 'entry', the default: small test guests have
 * no INIT/SIPI code). With apStart 'sipi' an AP waits as a PC's APs do after power-on, in the
 * wait-for-SIPI state (INIT_RECEIVED) with its reset registers: the BSP's INIT IPI resets it
 * again, and its STARTUP IPI with vector V starts it in real mode at CS = V << 8, IP = 0, that is
 * at physical V × 0x1000 — Linux's and firmware's bring-up.
 */
import { ConfigError, KvmMpState } from '@kvmts/core';

export type X86ApStart = 'entry' | 'sipi';

export const X86_AP_STARTS: readonly X86ApStart[] = ['entry', 'sipi'];

/** What vCPU `id` gets at boot: an MP state to set, and whether the boot payload's registers apply to it. */
export interface ApStartState {
  readonly mpState?: number;
  readonly bootRegisters: boolean;
}

/** The checked combination: 'sipi' needs the in-kernel LAPICs that deliver INIT and SIPI. */
export function checkApStart(apStart: X86ApStart, irqchip: string): void {
  if (apStart === 'sipi' && irqchip !== 'kernel') {
    throw new ConfigError('archOptions.apStart', `'sipi' needs archOptions.irqchip 'kernel' (the in-kernel LAPICs deliver INIT and SIPI), got irqchip '${irqchip}'`);
  }
}

/**
 * vCPU `id`'s start. The BSP (vCPU 0) always takes the boot payload. Without an in-kernel
 * LAPIC every vCPU is runnable from the start (KVM accepts no other MP state then).
 */
export function apStartState(id: number, apStart: X86ApStart, inKernelLapic: boolean, booted: boolean): ApStartState {
  if (id === 0 || !inKernelLapic || !booted) return { bootRegisters: true };
  if (apStart === 'sipi') return { mpState: KvmMpState.INIT_RECEIVED, bootRegisters: false };
  return { mpState: KvmMpState.RUNNABLE, bootRegisters: true };
}
