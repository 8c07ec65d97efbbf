/**
 * The per-interrupt state of a userspace GICv3 (Arm IHI 0069, chapter 4): for every INTID its
 * group, group modifier, enable, pending latch, input line, active bit, priority, configuration
 * (edge or level), NSACR field and — for SPIs — its IROUTER route. INTIDs 0–31 (SGIs, PPIs) have
 * one copy per CPU (the redistributor's); SPIs one for the GIC (the distributor's).
 *
 * Pending is the latch OR, for a level-sensitive interrupt, its line: that is the split KVM's
 * vGICv3 exposes too (ISPENDR through the device attributes is the latch, LEVEL_INFO the line),
 * so the state moves between the two without translation.
 */
import { ConfigError } from '@kvmts/core';
import { GIC_SGI_BASE, GIC_PPI_BASE, GIC_SPI_BASE } from '../intid';

export interface GicV3Geometry {
  /** MPIDR_EL1 of each CPU, in CPU (redistributor) order. */
  readonly mpidrs: readonly bigint[];
  /** INTIDs the distributor implements, SGIs and PPIs included: 64–992, a multiple of 32 (KVM's NR_IRQS). */
  readonly nrIrqs: number;
  /** Implemented priority bits, 5–8 (KVM's vGICv3: 5). */
  readonly priorityBits: number;
}

/** ICFGR field bit 1: edge-triggered (bit 0 is reserved, kept as written from userspace). */
export const ICFGR_EDGE = 0b10;
/** GICD_IROUTER.Interrupt_Routing_Mode (bit 31): any participating PE. */
export const IROUTER_IRM = 1n << 31n;

/** An MPIDR's affinity as IROUTER and GICR_TYPER hold it: Aff3 in 39:32, Aff2.Aff1.Aff0 in 23:0. */
export function routeAffinity(mpidr: bigint): bigint {
  return mpidr & 0xff_00ff_ffffn;
}

export class GicV3Interrupts {
  readonly cpus: number;
  readonly group: Uint8Array;
  readonly grpmod: Uint8Array;
  readonly enabled: Uint8Array;
  readonly latch: Uint8Array;
  readonly line: Uint8Array;
  readonly active: Uint8Array;
  readonly priority: Uint8Array;
  /** The 2-bit ICFGR field (bit 1 = edge). */
  readonly config: Uint8Array;
  readonly nsacr: Uint8Array;
  /** IROUTER of each SPI, by INTID (entries below 32 unused). */
  readonly route: BigUint64Array;

  constructor(readonly geometry: GicV3Geometry) {
    this.cpus = geometry.mpidrs.length;
    const slots = this.cpus * GIC_SPI_BASE + geometry.nrIrqs - GIC_SPI_BASE;
    const bytes = () => new Uint8Array(slots);
    this.group = bytes();
    this.grpmod = bytes();
    this.enabled = bytes();
    this.latch = bytes();
    this.line = bytes();
    this.active = bytes();
    this.priority = bytes();
    this.config = bytes();
    this.nsacr = bytes();
    this.route = new BigUint64Array(geometry.nrIrqs);
    this.reset();
  }

  /** Power-on: everything 0 (group 0, disabled, level, priority 0, routed to Aff 0.0.0.0) but the SGIs, which are edge-triggered. */
  reset(): void {
    for (const a of [this.group, this.grpmod, this.enabled, this.latch, this.line, this.active, this.priority, this.config, this.nsacr]) a.fill(0);
    this.route.fill(0n);
    for (let cpu = 0; cpu < this.cpus; cpu++) for (let i = GIC_SGI_BASE; i < GIC_PPI_BASE; i++) this.config[this.slot(cpu, i)] = ICFGR_EDGE;
  }

  /** Where INTID `intid`'s state is: CPU `cpu`'s copy for an SGI or PPI, the one copy of an SPI. */
  slot(cpu: number, intid: number): number {
    if (intid < GIC_SPI_BASE) {
      if (!Number.isInteger(intid) || intid < 0) throw new ConfigError('intid', `${intid} is not an interrupt identifier`);
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus) throw new ConfigError('cpu', `the GIC has CPUs 0–${this.cpus - 1}, not ${cpu}`);
      return cpu * GIC_SPI_BASE + intid;
    }
    if (!Number.isInteger(intid) || intid >= this.geometry.nrIrqs) throw new ConfigError('intid', `the GIC implements INTIDs 0–${this.geometry.nrIrqs - 1}, not ${intid}`);
    return this.cpus * GIC_SPI_BASE + intid - GIC_SPI_BASE;
  }

  isEdge(slot: number): boolean {
    return (this.config[slot] & ICFGR_EDGE) !== 0;
  }

  /** Pending as the guest sees it: the latch, or a level interrupt's line held high. */
  isPending(slot: number): boolean {
    return this.latch[slot] !== 0 || (!this.isEdge(slot) && this.line[slot] !== 0);
  }

  /**
   * Drive the input line of an interrupt: an edge-triggered one latches pending on a rising
   * edge; a level-sensitive one is pending while its line is high.
   */
  setLine(slot: number, level: boolean): void {
    if (this.isEdge(slot) && level && this.line[slot] === 0) this.latch[slot] = 1;
    this.line[slot] = level ? 1 : 0;
  }

  /** The CPUs SPI `intid` may be delivered to: every CPU with IRM set, else the one whose affinity IROUTER names (none if no CPU has it). */
  spiTargets(intid: number): number[] {
    const route = this.route[intid];
    if ((route & IROUTER_IRM) !== 0n) return Array.from({ length: this.cpus }, (_, i) => i);
    const aff = routeAffinity(route);
    const cpu = this.geometry.mpidrs.findIndex((m) => routeAffinity(m) === aff);
    return cpu < 0 ? [] : [cpu];
  }
}
