/**
 * A vCPU's power state as KVM_GET/SET_MP_STATE gives it. On arm64 (api.rst, KVM_SET_MP_STATE)
 * it is RUNNABLE or STOPPED: a secondary waiting for PSCI CPU_ON, or one that called CPU_OFF,
 * is STOPPED; (SUSPENDED where the kernel reports a WFI-suspended vCPU). It travels in the thread
 * context so that a restored machine's powered-off vCPUs stay off and its running ones run —
 * KVM_ARM_VCPU_INIT alone would power every secondary off and vCPU 0 on.
 */
import { KvmIoctl, KvmMpState, MpStateLayout, kvmIoctl } from '@kvmts/core';

export function getMpState(vcpuFd: number): number {
  const b = new DataView(new ArrayBuffer(MpStateLayout.size));
  kvmIoctl(vcpuFd, KvmIoctl.GET_MP_STATE, 'KVM_GET_MP_STATE', b);
  return b.getUint32(MpStateLayout.mp_state, true);
}

export function setMpState(vcpuFd: number, state: number): void {
  const b = new DataView(new ArrayBuffer(MpStateLayout.size));
  b.setUint32(MpStateLayout.mp_state, state, true);
  kvmIoctl(vcpuFd, KvmIoctl.SET_MP_STATE, `KVM_SET_MP_STATE(${KvmMpState[state] ?? state})`, b);
}
