import type { ArchCheckpointSupport } from '@kvmts/core';
import { arm64CpuFingerprint } from './cpu-fingerprint';
import { arm64VmComponents } from './vm-state';

/**
 * What makes arm64 machines checkpointable (ArchPlugin.checkpoint). vCPU state is the
 * ArmV8ThreadContext's data form (toJSON / ArmV8ThreadContext.fromData: the core, FP/SIMD,
 * allow-listed system and ID registers as bigints, and the vCPU's MP state, so a powered-off
 * vCPU stays off); version 1 is that shape. VM state: ./vm-state.ts.
 */
export const arm64CheckpointSupport: ArchCheckpointSupport = {
  nodeArch: 'arm64',
  threadContextVersion: 1,
  cpuFingerprint: (kvm) => arm64CpuFingerprint(kvm),
  vmComponents: arm64VmComponents,
};
