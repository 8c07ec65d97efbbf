/**
 * The machine's side of CPU switching for VM-wide state (cpu/switch-hooks.ts): when the first
 * vCPU switches out, the machine's run ends and the plugins' hooks move their state out of the
 * kernel — once, however many vCPUs switch out at the same time; when the last one takes its
 * thread back, the state goes back. A hook's refusal comes before anything stops.
 */
import { checkSwitchOutAllowed, runSwitchHooks, type MachineSwitchHook } from '../cpu/switch-hooks';
import type { SwitchState } from '../cpu/switching';

/** What the hand-off needs to know of a vCPU's switch. */
export interface SwitchingVcpu {
  readonly switchState: SwitchState;
  /** A switch-out of it is in progress. */
  readonly switchingOut: boolean;
}

export class SwitchHandOff {
  /** The move out of the kernel, shared by every vCPU switching out until the state comes back. */
  private handOff: Promise<void> | undefined;

  constructor(
    private readonly hooks: () => readonly MachineSwitchHook[],
    /** Ends the machine's run: every vCPU out of KVM_RUN. */
    private readonly stopMachine: () => Promise<void>,
    private readonly vcpus: () => readonly (SwitchingVcpu | undefined)[],
  ) {}

  /** Before a vCPU gives its thread up (after its own drain). */
  async beforeSwitchOut(): Promise<void> {
    const hooks = this.hooks();
    if (hooks.length === 0) return;
    if (this.handOff === undefined) {
      checkSwitchOutAllowed(hooks);
      const move = (async () => {
        await this.stopMachine();
        await runSwitchHooks(hooks, 'switchingOut');
      })();
      // A failed move is not kept: the next switch-out tries again.
      this.handOff = move.catch((e: unknown) => {
        this.handOff = undefined;
        throw e;
      });
    }
    await this.handOff;
  }

  /** After `from` took a thread back (or its switch-out failed): the last one back returns the state. */
  async afterTakeOver(from: SwitchingVcpu): Promise<void> {
    if (this.vcpus().some((s) => s !== undefined && s !== from && (s.switchState === 'switched-out' || s.switchingOut))) return;
    this.handOff = undefined;
    await runSwitchHooks(this.hooks(), 'resuming');
  }
}
