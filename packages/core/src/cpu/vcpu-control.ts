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
import * as native from '@kvmts/native';
import { KvmRunLayout } from '../abi/kvm-run';

const IMMEDIATE_EXIT_OFFSET = KvmRunLayout.immediate_exit;

export const ControlSlot = {
  stop: 0,
  ack: 1,
  /** 1 while the run loop is active. */
  running: 2,
} as const;
export const CONTROL_INTS = 4;

/**
 * The controller's half of the protocol: request a stop and knock the vCPU thread out of
 * KVM_RUN. Safe to repeat. `runBytes` is the controller's own view of the vCPU's kvm_run.
 */
export function requestVcpuStop(control: Int32Array, runBytes: Uint8Array, thread: bigint | undefined): void {
  Atomics.store(control, ControlSlot.stop, 1);
  Atomics.store(runBytes, IMMEDIATE_EXIT_OFFSET, 1);
  if (thread !== undefined) native.kickThread(thread);
}

/** Undo a stop request before the next run (only once the vCPU thread has acknowledged). */
export function clearVcpuStop(control: Int32Array, runBytes: Uint8Array): void {
  Atomics.store(control, ControlSlot.stop, 0);
  Atomics.store(runBytes, IMMEDIATE_EXIT_OFFSET, 0);
}

export function newControlBlock(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
}
