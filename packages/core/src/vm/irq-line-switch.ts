import { ConfigError } from '../errors/errors';
import type { IrqLines } from './irq-line';

/**
 * The interrupt lines of one thread that hosts devices, with room for a userspace interrupt
 * controller device. Until a device claims them, every line goes to `base` (KVM_IRQ_LINE, or the
 * arch's controller). Once a device claims them, the other devices' lines go to it, and it drives
 * its own outputs through `base`, which claim() returns. An arm64 machine without an in-kernel
 * GIC works this way: the userspace GIC claims the lines, so a UART's SPI reaches the GIC model,
 * and the model drives each vCPU's IRQ/FIQ input through KVM_IRQ_LINE.
 */
export class IrqLineSwitch implements IrqLines {
  private controller: IrqLines | undefined;
  private claimedBy = '';

  constructor(private readonly base: IrqLines) {}

  set(line: number, level: boolean): void {
    (this.controller ?? this.base).set(line, level);
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
}
