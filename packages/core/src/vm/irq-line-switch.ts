import { ConfigError, LifecycleError } from '../errors/errors';
import type { IrqLines } from './irq-line';

/**
 * The interrupt lines of one thread that hosts devices, with room for a userspace interrupt
 * controller device. Until a device claims them, every line goes to `base` (KVM_IRQ_LINE, or the
 * arch's controller). Once a device claims them, the other devices' lines go to it, and it drives
 * its own outputs through `base`, which claim() returns. An arm64 machine without an in-kernel
 * GIC works this way: the userspace GIC claims the lines, so a UART's SPI reaches the GIC model,
 * and the model drives each vCPU's IRQ/FIQ input through KVM_IRQ_LINE.
 *
 * A claim may also be temporary: the muxing GIC (@kvmts/dev-gic) claims a machine's lines while
 * its userspace model holds the in-kernel GIC's state, and release()s them when the state goes
 * back (machine/machine-irq-lines.ts). After a release the lines go to `base` again.
 */
export class IrqLineSwitch implements IrqLines {
  private controller: IrqLines | undefined;
  private claimedBy = '';

  constructor(private readonly base: IrqLines) {}

  set(line: number, level: boolean): void {
    (this.controller ?? this.base).set(line, level);
  }

  /** Who holds the lines now ('' when nobody does: they go to the base). */
  get claimant(): string {
    return this.claimedBy;
  }

  /** Route every device line to `controller` (device `by`); returns the lines underneath. ConfigError on a second claim. */
  claim(controller: IrqLines, by: string): IrqLines {
    if (this.controller !== undefined) {
      throw new ConfigError('devices', `'${by}' cannot be the interrupt controller of this machine's devices: '${this.claimedBy}' already is`);
    }
    this.controller = controller;
    this.claimedBy = by;
    return this.base;
  }

  /**
   * Give the lines back to the base (`by` must be who claimed them: a LifecycleError names the
   * holder otherwise, and the claim stays). Lines set afterwards go to the base.
   */
  release(by: string): void {
    if (this.controller === undefined) throw new LifecycleError('interrupt lines', 'not claimed', `release them for '${by}'`);
    if (this.claimedBy !== by) throw new LifecycleError('interrupt lines', `claimed by '${this.claimedBy}'`, `release them for '${by}'`);
    this.controller = undefined;
    this.claimedBy = '';
  }
}
