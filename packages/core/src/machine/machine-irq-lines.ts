/**
 * Every device interrupt line of a machine, across its threads, as one thing a plugin can take
 * for a while. A machine's devices drive their lines from the main thread (host-side instances:
 * UART input, a test device) and from each vCPU thread (the instances that serve the vCPU's
 * exits); each thread has its own IrqLineSwitch (vm/irq-line-switch.ts). Normally each goes
 * straight to KVM. While a plugin holds them — the muxing GIC, while its userspace model holds
 * the in-kernel GIC's state (cpu/switch-hooks.ts) — every line goes to that plugin's controller
 * on the main thread: the main thread's switch is claimed directly, and each vCPU thread's is
 * claimed by a forwarder that posts its line changes to the main thread, which drives them
 * through the main thread's switch (so they reach the controller, or KVM once released, in the
 * order the thread set them).
 */
import { LifecycleError } from '../errors/errors';
import type { IrqLines } from '../vm/irq-line';
import type { IrqLineSwitch } from '../vm/irq-line-switch';

/** What a plugin sees of the machine's device lines. */
export interface MachineIrqLines {
  /**
   * Send every device line of the machine to `controller` (on the main thread) until release.
   * The main thread's lines are the controller's when this returns; the vCPU threads' when the
   * promise resolves. A second claim (or a line switch a userspace GIC device claimed) is a
   * ConfigError, and nothing stays claimed.
   */
  claim(controller: IrqLines, by: string): Promise<void>;
  /**
   * Give the lines back (`by` as claimed them): the main thread's at once — a line a vCPU thread
   * set before and that arrives afterwards goes to KVM — the vCPU threads' when the promise resolves.
   */
  release(by: string): Promise<void>;
}

/** How the main thread asks one vCPU thread to forward or keep its lines (the worker's 'forwardIrqLines' / 'releaseIrqLines'). */
export interface IrqLineThread {
  call(method: 'forwardIrqLines' | 'releaseIrqLines', by: string): Promise<unknown>;
}

export class ThreadedIrqLines implements MachineIrqLines {
  constructor(
    /** The main thread's lines; also where the vCPU threads' forwarded lines are driven. */
    private readonly main: IrqLineSwitch,
    private readonly threads: () => readonly IrqLineThread[],
  ) {}

  async claim(controller: IrqLines, by: string): Promise<void> {
    this.main.claim(controller, by);
    const threads = this.threads();
    const claims = await Promise.allSettled(threads.map((t) => t.call('forwardIrqLines', by)));
    const failed = claims.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (!failed) return;
    // Nothing stays claimed: the threads that forward go back to KVM, then the main thread.
    await Promise.allSettled(threads.filter((_, i) => claims[i].status === 'fulfilled').map((t) => t.call('releaseIrqLines', by)));
    this.main.release(by);
    throw failed.reason;
  }

  async release(by: string): Promise<void> {
    if (this.main.claimant !== by) throw new LifecycleError('machine interrupt lines', this.main.claimant ? `claimed by '${this.main.claimant}'` : 'not claimed', `release them for '${by}'`);
    this.main.release(by);
    const releases = await Promise.allSettled(this.threads().map((t) => t.call('releaseIrqLines', by)));
    const failed = releases.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
