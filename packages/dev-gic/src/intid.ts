/**
 * Interrupt identifiers (INTIDs) as the GIC architecture numbers them — the one numbering every
 * part of this package (in-kernel vGIC, userspace model, state tables) speaks.
 *
 *   0–15     SGIs   software-generated, banked per CPU
 *   16–31    PPIs   private peripheral, banked per CPU
 *   32–1019  SPIs   shared peripheral (a GIC implements 32 × (ITLinesNumber + 1) INTIDs in all)
 *   1020–1023       special (1023: no pending interrupt — the spurious INTID)
 *   8192–           LPIs (GICv3 with an ITS)
 */
import { ConfigError } from '@kvmts/core';

export const GIC_SGI_BASE = 0;
export const GIC_PPI_BASE = 16;
export const GIC_SPI_BASE = 32;
export const GIC_MAX_SPI_INTID = 1019;
export const GIC_SPURIOUS_INTID = 1023;
export const GIC_LPI_BASE = 8192;

export type IntidKind = 'sgi' | 'ppi' | 'spi' | 'special' | 'reserved' | 'lpi';

/** Which class of interrupt `intid` is. */
export function intidKind(intid: number): IntidKind {
  if (!Number.isInteger(intid) || intid < 0) throw new ConfigError('intid', `${intid} is not an interrupt identifier (a non-negative integer)`);
  if (intid < GIC_PPI_BASE) return 'sgi';
  if (intid < GIC_SPI_BASE) return 'ppi';
  if (intid <= GIC_MAX_SPI_INTID) return 'spi';
  if (intid <= GIC_SPURIOUS_INTID) return 'special';
  if (intid < GIC_LPI_BASE) return 'reserved';
  return 'lpi';
}

/** Whether `intid` is banked per CPU (SGIs and PPIs are; everything else is one shared interrupt). */
export function isBankedIntid(intid: number): boolean {
  const kind = intidKind(intid);
  return kind === 'sgi' || kind === 'ppi';
}

/**
 * The INTID count a GIC with `irqs` interrupts really implements: GICD_TYPER.ITLinesNumber
 * counts blocks of 32, so it is `irqs` rounded up to a multiple of 32, capped at 1020 (INTIDs
 * 1020–1023 are special). KVM's KVM_DEV_ARM_VGIC_GRP_NR_IRQS is stricter (a multiple of 32).
 */
export function implementedIntids(irqs: number): number {
  if (!Number.isInteger(irqs) || irqs < 64 || irqs > 1020) {
    throw new ConfigError('irqs', `a GIC has 64..1020 interrupts (SGIs and PPIs included), not ${irqs}`);
  }
  return Math.min(1020, Math.ceil(irqs / 32) * 32);
}
