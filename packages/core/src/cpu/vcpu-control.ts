/**
 * Cross-thread stop protocol for one vCPU, over a SharedArrayBuffer that both the vCPU thread
 * and the controlling thread hold.
 *
 * Stopping a vCPU that may be inside KVM_RUN (the measured-safe scheme, testing-and-ci.md §5):
 *   controller: STOP := 1, then kvm_run.immediate_exit := 1, then pthread_kill(vCPU thread).
 *   vCPU thread: KVM_RUN returns EINTR (or is never entered: immediate_exit is checked on entry);
 *   at the top of its loop it sees STOP, performs a half entry (immediate_exit run) so pending
 *   I/O completes, and acknowledges by bumping ACK.
 * immediate_exit stays set until the controller resumes the vCPU, so a late store can never be
 * lost and a lost signal can never leave the thread inside KVM_RUN.
 */
export const ControlSlot = {
  stop: 0,
  ack: 1,
  /** 1 while the run loop is active. */
  running: 2,
} as const;
export const CONTROL_INTS = 4;

export function newControlBlock(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
}
