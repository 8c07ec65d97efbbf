/**
 * A slice timer ends a vCPU's run after a slice of host time, so that a vCPU running on a
 * thread with other work — Node's main thread, whose event loop waits while KVM_RUN runs — gives
 * that thread back regularly. When the slice runs out, a native thread (no V8 isolate) does what
 * a stop request from another thread does: STOP := 1 (element 0 of `stopWord`),
 * kvm_run.immediate_exit := 1 (element 0 of `immediateExit`), then the kick signal to the thread
 * that armed the timer — KVM_RUN returns EINTR and the run loop stops at its top.
 *
 *   timer.arm(stopWord, immediateExit, intervalNs);   // then run the vCPU on this thread
 *   const ranOut = timer.disarm();                     // after the run loop returned
 *   if (ranOut) { clear STOP and immediate_exit; }     // they were the timer's
 *
 * Once disarm() has returned, the timer writes nothing more and kicks no thread for that slice.
 * The kick handler must be installed and the signal unblocked in the arming thread
 * (installKickHandler()).
 */
import { native } from './binding';
import { syscallError } from './errors';

export class SliceTimer {
  private id: number | undefined;

  /** Starts the timer's native thread (idle until armed). */
  constructor() {
    this.id = native.sliceTimerCreate();
  }

  /**
   * Arm for one slice of `intervalNs` (1 µs to 1 h). Throws SyscallError EBUSY when armed already,
   * EINVAL for arguments of the wrong type or size, EBADF once closed.
   */
  arm(stopWord: Int32Array, immediateExit: Uint8Array, intervalNs: number): void {
    const rc = this.id === undefined ? -9 /* EBADF */ : native.sliceTimerArm(this.id, stopWord, immediateExit, intervalNs);
    if (rc < 0) throw syscallError(native, 'sliceTimerArm', rc, `slice timer (${intervalNs} ns)`);
  }

  /** End the slice: true when it had run out (the timer set STOP and immediate_exit), false when not. */
  disarm(): boolean {
    if (this.id === undefined) return false;
    return native.sliceTimerDisarm(this.id) === 1;
  }

  /** Ends the timer's thread. Idempotent. */
  close(): void {
    if (this.id === undefined) return;
    native.sliceTimerClose(this.id);
    this.id = undefined;
  }
}

/** Slice timers not yet closed, process-wide (tests: none may leak). */
export function liveSliceTimerCount(): number {
  return native.liveSliceTimerCount();
}
