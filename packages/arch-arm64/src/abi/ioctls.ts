import { ior, iow } from '@kvmts/core';
import { Arm64GuestDebugLayout, Arm64VcpuEventsLayout, Arm64VcpuInitLayout } from './layouts';

/**
 * arm64-only KVM ioctls, each written once from its direction, number and argument struct
 * (the generic ones, ONE_REG and GET_REG_LIST included, are core's KvmIoctl). The macro for key
 * K is KVM_<K>; the ABI test checks every entry against the arm64 headers.
 *
 * SET_GUEST_DEBUG and the vCPU-event ioctls have the generic numbers but arm64 structs, so their
 * request numbers are arm64's own (SET_GUEST_DEBUG: 0x4208AE9B here, 0x4048AE9B on x86).
 */
export const Arm64Ioctl = {
  // VM fd
  ARM_PREFERRED_TARGET: ior(0xaf, Arm64VcpuInitLayout.size),
  // vCPU fd
  ARM_VCPU_INIT: iow(0xae, Arm64VcpuInitLayout.size),
  /** The argument is an int passed by pointer: the feature to finalize (4 = SVE). */
  ARM_VCPU_FINALIZE: iow(0xc2, 4),
  SET_GUEST_DEBUG: iow(0x9b, Arm64GuestDebugLayout.size),
  GET_VCPU_EVENTS: ior(0x9f, Arm64VcpuEventsLayout.size),
  SET_VCPU_EVENTS: iow(0xa0, Arm64VcpuEventsLayout.size),
} as const;

export type Arm64IoctlName = keyof typeof Arm64Ioctl;
