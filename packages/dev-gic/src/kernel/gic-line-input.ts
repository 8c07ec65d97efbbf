/**
 * The machine's device interrupt lines as inputs of its in-kernel GIC, for the time the GIC mux
 * holds them (./gic-mux.ts). Devices drive lines as KVM_IRQ_LINE values (the PL011's SPI, a
 * timer's PPI); this decodes each and drives it through the KernelGic, whose setSpi/setPpi reach
 * whichever side holds the GIC — the userspace model while it does, KVM_IRQ_LINE otherwise. So
 * it does not matter whether a line changes just before or just after the state moves: it lands
 * on the side that holds the GIC at that instant, and the state transfer carries it over.
 */
import type { IrqLines } from '@kvmts/core';
import { decodeIrqLine } from '@kvmts/arch-arm64';
import type { KernelGic } from './kernel-gic';

export class GicLineInput implements IrqLines {
  constructor(private readonly gic: KernelGic) {}

  set(line: number, level: boolean): void {
    const decoded = decodeIrqLine(line);
    if (decoded.type === 'spi') this.gic.setSpi(decoded.intid, level);
    else if (decoded.type === 'ppi') this.gic.setPpi(decoded.vcpu, decoded.intid, level);
    // A vCPU's IRQ/FIQ input is no GIC input (KVM refuses it with a vGIC, and says so).
    else this.gic.vm.setIrqLine(line, level);
  }
}
