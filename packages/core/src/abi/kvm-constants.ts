/**
 * Architecture-neutral KVM constants that are not tied to kvm_run (include/uapi/linux/kvm.h).
 * Constants named exactly like their C macro are checked by the ABI test automatically.
 */

/** KVM_GET_API_VERSION must return this; anything else is a different, incompatible ABI. */
export const KVM_API_VERSION = 12;

/** kvm_mp_state.mp_state values (KVM_MP_STATE_*). */
export enum KvmMpState {
  RUNNABLE = 0,
  UNINITIALIZED = 1,
  INIT_RECEIVED = 2,
  HALTED = 3,
  SIPI_RECEIVED = 4,
  STOPPED = 5,
  CHECK_STOP = 6,
  OPERATING = 7,
  LOAD = 8,
  AP_RESET_HOLD = 9,
  SUSPENDED = 10,
}

/** kvm_guest_debug.control bits shared by all arches (KVM_GUESTDBG_*); arches add more. */
export const KvmGuestDebug = { ENABLE: 0x1, SINGLESTEP: 0x2 } as const;

/** kvm_enable_cap.args is `__u64 args[4]`. */
export const ENABLE_CAP_ARG_COUNT = 4;
