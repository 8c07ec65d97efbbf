/**
 * Running a vCPU and stopping it. `run` is the per-exit hot path: it is the addon function
 * itself (no wrapper), returns 0 or -errno and never throws — a native exception thrown for
 * EINTR during worker.terminate() aborted Node. In a forked child it returns -EPERM.
 *
 * `run`, `currentThread`, `kickThread` and `gettid` start as stubs that load the addon (the
 * only time they can throw: NativeLoadError); loading the addon, by whichever call comes
 * first, replaces all four with the addon's own functions. Read them from the module after
 * the addon has loaded (e.g. when the vCPU exists) to hold the addon function itself: a copy
 * taken at import time keeps the stub, which forwards.
 *
 * Kick protocol: the vCPU thread calls installKickHandler() and publishes currentThread();
 * to stop it, set kvm_run.immediate_exit = 1 (keep it set until the vCPU thread
 * acknowledges) and kickThread(handle): KVM_RUN then returns -EINTR.
 */
import { loadNative, native, onNativeLoad } from './binding';
import { syscallError, type SyscallError } from './errors';

/**
 * The error for a negative run() result: in a forked child the fork guard's EFORKED error —
 * the same code and message as every other guarded call there — rather than a bare EPERM.
 */
export function runError(rc: number): SyscallError {
  return syscallError(native, 'ioctl', native.inForkedChild() ? native.forkedRc : rc, 'KVM_RUN');
}

/** KVM_RUN on `vcpuFd`: 0 or -errno; never throws. */
export let run: (vcpuFd: number) => number = (vcpuFd) => loadNative().run(vcpuFd);

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
export let currentThread: () => bigint = () => loadNative().currentThread();

/** Sends the kick signal to a thread: 0 or -errno (-ESRCH once the thread has exited). */
export let kickThread: (thread: bigint) => number = (thread) => loadNative().kickThread(thread);

/** The calling thread's kernel thread id. */
export let gettid: () => number = () => loadNative().gettid();

onNativeLoad((binding) => {
  run = binding.run;
  currentThread = binding.currentThread;
  kickThread = binding.kickThread;
  gettid = binding.gettid;
});
