/**
 * Running a vCPU and stopping it. `run` is the per-exit hot path: it is the addon function
 * itself (no wrapper), returns 0 or -errno and never throws — a native exception thrown for
 * EINTR during worker.terminate() aborted Node. In a forked child it returns -EPERM.
 *
 * Kick protocol: the vCPU thread calls installKickHandler() and publishes currentThread();
 * to stop it, set kvm_run.immediate_exit = 1 (keep it set until the vCPU thread
 * acknowledges) and kickThread(handle): KVM_RUN then returns -EINTR.
 */
import { native } from './binding';
import { syscallError } from './errors';

/** KVM_RUN on `vcpuFd`: 0 or -errno; never throws. */
export const run: (vcpuFd: number) => number = native.run;

/**
 * Installs (once per process) a no-op handler for SIGRTMIN+4 without SA_RESTART and unblocks
 * the signal in the calling thread. Returns the signal number. Throws SyscallError('sigaction').
 */
export function installKickHandler(): number {
  const rc = native.installKickHandler();
  if (rc < 0) throw syscallError(native, 'sigaction', rc);
  return rc;
}

/** An opaque handle (pthread_self) for the calling thread, valid for kickThread. */
export const currentThread: () => bigint = native.currentThread;

/** Sends the kick signal to a thread: 0 or -errno (-ESRCH once the thread has exited). */
export const kickThread: (thread: bigint) => number = native.kickThread;

/** The calling thread's kernel thread id. */
export const gettid: () => number = native.gettid;
