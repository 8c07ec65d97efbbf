/**
 * What `Machine.run()` does when called again — one rule per way the last run ended, so a
 * caller never has to guess (docs/errors.md lists them):
 *  - after close(): LifecycleError (phase 'closed');
 *  - while a run is in flight: LifecycleError (phase 'running') — one run at a time;
 *  - after a power-off: LifecycleError (phase 'powered off') — the guest has shut down; restore a
 *    checkpoint or create a new machine to run it again;
 *  - after an error: LifecycleError (phase 'failed: <error class>') — the guest's state is
 *    whatever the failure left (a triple fault, a thrown callback), so it is not resumed;
 *  - after a system event that ended the guest (shutdown, reset, crash: PSCI SYSTEM_OFF/RESET, an
 *    x86 i8042 or port 0x92 reset): LifecycleError (phase 'shut down' / 'reset' / 'crashed') —
 *    KVM has powered the vCPUs off, and a reset is not a resume;
 *  - after stop(), a halt, an exit limit, an m5op that ends the run or another system event: the
 *    run resumes every vCPU where it stopped (the checkpoint-and-continue path).
 */
import { LifecycleError } from '../errors/errors';
import { KvmSystemEvent } from '../abi/kvm-run';

/** KVM_SYSTEM_EVENT types after which the guest is gone (kvm.h: SHUTDOWN 1, RESET 2, CRASH 3). */
const ENDING_EVENTS: Readonly<Record<number, string>> = { [KvmSystemEvent.SHUTDOWN]: 'shut down', [KvmSystemEvent.RESET]: 'reset', [KvmSystemEvent.CRASH]: 'crashed' };

/** The part of a machine's state the rule reads. */
export interface RunState {
  readonly closed: boolean;
  readonly running: boolean;
  readonly lastExit: { readonly reason: string; readonly error?: Error; readonly event?: number } | undefined;
}

/** The LifecycleError a run() call gets in `state`, or undefined when it may run. */
export function runRefusal(state: RunState): LifecycleError | undefined {
  if (state.closed) return new LifecycleError('machine', 'closed', 'run');
  if (state.running) return new LifecycleError('machine', 'running', 'run (one run at a time: await the first, or stop() it)');
  const last = state.lastExit;
  if (last?.reason === 'poweroff') return new LifecycleError('machine', 'powered off', 'run (restore a checkpoint or create a new machine)');
  if (last?.reason === 'system-event' && last.event !== undefined && ENDING_EVENTS[last.event]) {
    return new LifecycleError('machine', ENDING_EVENTS[last.event], 'run (restore a checkpoint or create a new machine)');
  }
  if (last?.reason === 'error') return new LifecycleError('machine', `failed: ${last.error?.name ?? 'error'}`, 'run (close it; its guest state is what the failure left)');
  return undefined;
}
