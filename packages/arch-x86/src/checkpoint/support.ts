import type { ArchCheckpointSupport } from '@kvmts/core';
import { x86CpuFingerprint } from './cpu-fingerprint';
import { x86VmComponents } from './vm-state';

/**
 * What makes x86 machines checkpointable (ArchPlugin.checkpoint). vCPU state is the
 * X86ThreadContext's data form (toJSON / X86ThreadContext.fromData: every state group, the
 * XSAVE image and LAPIC page as raw bytes); version 1 is that shape.
 */
export const x86CheckpointSupport: ArchCheckpointSupport = {
  nodeArch: 'x64',
  threadContextVersion: 1,
  cpuFingerprint: x86CpuFingerprint,
  vmComponents: x86VmComponents,
};
