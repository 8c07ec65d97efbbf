import { LifecycleError } from '../errors/errors';

/**
 * A VM's phases, explicit so nothing depends on hidden start-up ordering (gem5 initialises its
 * VM from the first CPU's startup()):
 *   configure → ready → running ⇄ drained → closed
 * configure: memory, irqchips, devices and vCPUs may be added.
 * ready: configuration frozen; vCPUs may be set up and started.
 * running: at least one vCPU thread may be inside KVM_RUN.
 * drained: every vCPU stopped with pending I/O completed; state may be read or written.
 * closed: every fd closed, every mapping released.
 */
export type VmPhase = 'configure' | 'ready' | 'running' | 'drained' | 'closed';

const transitions: Record<VmPhase, readonly VmPhase[]> = {
  configure: ['ready', 'closed'],
  ready: ['running', 'closed'],
  running: ['drained', 'closed'],
  drained: ['running', 'closed'],
  closed: [],
};

export class Lifecycle {
  private current: VmPhase = 'configure';
  constructor(private readonly object: string) {}

  get phase(): VmPhase {
    return this.current;
  }

  /** Throw LifecycleError unless the current phase is one of `allowed`. */
  require(operation: string, ...allowed: VmPhase[]): void {
    if (!allowed.includes(this.current)) throw new LifecycleError(this.object, this.current, operation);
  }

  moveTo(next: VmPhase): void {
    if (next === this.current) return;
    if (!transitions[this.current].includes(next)) throw new LifecycleError(this.object, this.current, `move to ${next}`);
    this.current = next;
  }
}
