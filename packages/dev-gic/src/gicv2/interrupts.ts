/**
 * The per-interrupt state of a GICv2 (IHI 0048B §3.2, §4.3) and the highest-priority-pending
 * search every CPU interface decision starts from. Register decoding is elsewhere
 * (distributor.ts); this module is the state machine the registers act on.
 */
import { GIC_PPI_BASE, GIC_SPI_BASE } from '../intid';
import { GicdCtlr, GiccCtlr } from './registers';
import { SlotFlag, type GicV2Storage } from './storage';

/** The interrupt a search found (fields rather than an object: the exit path allocates nothing). */
export class PendingInterrupt {
  /** -1: none. */
  intid = -1;
  priority = 0xff;
  group1 = false;
  /** For an SGI, the lowest-numbered CPU it is pending from. */
  source = 0;
}

export class GicV2Interrupts {
  /** The implemented high bits of an 8-bit priority field (e.g. 0xF8 with 5 bits). */
  readonly priorityMask: number;

  constructor(readonly storage: GicV2Storage) {
    this.priorityMask = (0xff << (8 - storage.geometry.priorityBits)) & 0xff;
  }

  get intids(): number {
    return this.storage.geometry.intids;
  }

  private flags(cpu: number, intid: number): number {
    return this.storage.flags[this.storage.slot(cpu, intid)];
  }

  private setFlag(cpu: number, intid: number, bit: number, on: boolean): void {
    const slot = this.storage.slot(cpu, intid);
    const f = this.storage.flags[slot];
    this.storage.flags[slot] = on ? f | bit : f & ~bit;
  }

  enabled(cpu: number, intid: number): boolean {
    return (this.flags(cpu, intid) & SlotFlag.ENABLED) !== 0;
  }
  /** SGI enables are RAO/WI (an implementation choice IHI 0048B §4.3.5 allows): SGIs are always enabled. */
  setEnabled(cpu: number, intid: number, on: boolean): void {
    if (intid >= GIC_PPI_BASE) this.setFlag(cpu, intid, SlotFlag.ENABLED, on);
  }

  /**
   * Pending: an SGI from any source; otherwise the latch, or — level-sensitive — the line high
   * (§3.2.4: a level interrupt is pending while its input is asserted, whatever was acknowledged).
   */
  pending(cpu: number, intid: number): boolean {
    if (intid < GIC_PPI_BASE) return this.storage.sgiSources[this.storage.sgiSourceIndex(cpu, intid)] !== 0;
    const f = this.flags(cpu, intid);
    return (f & SlotFlag.LATCH) !== 0 || ((f & SlotFlag.EDGE) === 0 && (f & SlotFlag.LINE) !== 0);
  }
  /** ISPENDR/ICPENDR: the latch. SGI bits are ignored there (their pending state goes through S/CPENDSGIR). */
  setPendingLatch(cpu: number, intid: number, on: boolean): void {
    if (intid >= GIC_PPI_BASE) this.setFlag(cpu, intid, SlotFlag.LATCH, on);
  }
  /** The latch alone (state transfer saves it apart from the line level). */
  pendingLatch(cpu: number, intid: number): boolean {
    return (this.flags(cpu, intid) & SlotFlag.LATCH) !== 0;
  }

  active(cpu: number, intid: number): boolean {
    return (this.flags(cpu, intid) & SlotFlag.ACTIVE) !== 0;
  }
  setActive(cpu: number, intid: number, on: boolean): void {
    this.setFlag(cpu, intid, SlotFlag.ACTIVE, on);
  }

  group1(cpu: number, intid: number): boolean {
    return (this.flags(cpu, intid) & SlotFlag.GROUP1) !== 0;
  }
  setGroup1(cpu: number, intid: number, on: boolean): void {
    this.setFlag(cpu, intid, SlotFlag.GROUP1, on);
  }

  /** SGIs are always edge-triggered (ICFGR0 is read-only). */
  edge(cpu: number, intid: number): boolean {
    return intid < GIC_PPI_BASE || (this.flags(cpu, intid) & SlotFlag.EDGE) !== 0;
  }
  setEdge(cpu: number, intid: number, on: boolean): void {
    if (intid >= GIC_PPI_BASE) this.setFlag(cpu, intid, SlotFlag.EDGE, on);
  }

  line(cpu: number, intid: number): boolean {
    return (this.flags(cpu, intid) & SlotFlag.LINE) !== 0;
  }
  /** An input line moves: a rising edge latches an edge-triggered interrupt pending. */
  setLine(cpu: number, intid: number, level: boolean): void {
    if (level && !this.line(cpu, intid) && this.edge(cpu, intid)) this.setFlag(cpu, intid, SlotFlag.LATCH, true);
    this.setFlag(cpu, intid, SlotFlag.LINE, level);
  }

  /** Set the line level as it was saved: no edge is seen (the latch is restored on its own). */
  restoreLine(cpu: number, intid: number, level: boolean): void {
    this.setFlag(cpu, intid, SlotFlag.LINE, level);
  }

  priority(cpu: number, intid: number): number {
    return this.storage.priority[this.storage.slot(cpu, intid)];
  }
  /** Unimplemented low priority bits are RAZ/WI. */
  setPriority(cpu: number, intid: number, value: number): void {
    this.storage.priority[this.storage.slot(cpu, intid)] = value & this.priorityMask;
  }

  /**
   * ITARGETSR as `cpu` reads it: its own bit for SGIs and PPIs (they go to the CPU they belong
   * to), the CPU mask for an SPI. With one CPU interface every ITARGETSR is RAZ/WI (§4.3.12).
   */
  targets(cpu: number, intid: number): number {
    if (this.storage.geometry.cpus === 1) return 0;
    if (intid < GIC_SPI_BASE) return 1 << cpu;
    return this.storage.targets[this.storage.slot(cpu, intid)];
  }
  /** SPI targets; bits of CPUs that do not exist are RAZ/WI. */
  setTargets(intid: number, mask: number): void {
    if (intid >= GIC_SPI_BASE) this.storage.targets[this.storage.slot(0, intid)] = mask & ((1 << this.storage.geometry.cpus) - 1);
  }
  /** Whether `intid` goes to `cpu`: always for its SGIs and PPIs, and for every SPI of a single-CPU GIC. */
  targetsCpu(cpu: number, intid: number): boolean {
    if (intid < GIC_SPI_BASE || this.storage.geometry.cpus === 1) return true;
    return (this.storage.targets[this.storage.slot(cpu, intid)] & (1 << cpu)) !== 0;
  }

  /** Sources an SGI is pending from on `cpu` (GICD_SPENDSGIR byte). */
  sgiSources(cpu: number, sgi: number): number {
    return this.storage.sgiSources[this.storage.sgiSourceIndex(cpu, sgi)];
  }
  setSgiSources(cpu: number, sgi: number, mask: number): void {
    this.storage.sgiSources[this.storage.sgiSourceIndex(cpu, sgi)] = mask & ((1 << this.storage.geometry.cpus) - 1);
  }

  /**
   * Acknowledge `intid` on `cpu` (GICC_IAR): active, and no longer pending from the latch (an
   * edge, or a software-pended level interrupt, as KVM's vGIC also clears it) or, for an SGI,
   * from `source` (pending SGIs from other sources stay: active and pending).
   */
  acknowledge(cpu: number, intid: number, source: number): void {
    if (intid < GIC_PPI_BASE) this.setSgiSources(cpu, intid, this.sgiSources(cpu, intid) & ~(1 << source));
    else this.setFlag(cpu, intid, SlotFlag.LATCH, false);
    this.setFlag(cpu, intid, SlotFlag.ACTIVE, true);
  }

  /**
   * The highest-priority pending interrupt `cpu` may be given (§3.3): pending, not active (an
   * active-and-pending interrupt waits for its deactivation), enabled, targeted at `cpu`, its
   * group forwarded by the distributor (GICD_CTLR) and enabled on the CPU interface (GICC_CTLR).
   * Ties go to the lowest INTID, and an SGI to its lowest-numbered source (§3.3.1).
   */
  highestPending(cpu: number, cpuCtlr: number, out: PendingInterrupt): PendingInterrupt {
    out.intid = -1;
    out.priority = 0x100;
    const d = this.storage.distributorCtlr;
    const grp0 = (d & GicdCtlr.ENABLE_GRP0) !== 0 && (cpuCtlr & GiccCtlr.ENABLE_GRP0) !== 0;
    const grp1 = (d & GicdCtlr.ENABLE_GRP1) !== 0 && (cpuCtlr & GiccCtlr.ENABLE_GRP1) !== 0;
    if (!grp0 && !grp1) return out;
    for (let intid = 0; intid < this.intids; intid++) {
      const slot = this.storage.slot(cpu, intid);
      const f = this.storage.flags[slot];
      if ((f & SlotFlag.ENABLED) === 0 || (f & SlotFlag.ACTIVE) !== 0) continue;
      const prio = this.storage.priority[slot];
      if (prio >= out.priority) continue;
      if ((f & SlotFlag.GROUP1) !== 0 ? !grp1 : !grp0) continue;
      if (!this.pending(cpu, intid) || !this.targetsCpu(cpu, intid)) continue;
      out.intid = intid;
      out.priority = prio;
      out.group1 = (f & SlotFlag.GROUP1) !== 0;
    }
    if (out.intid >= 0 && out.intid < GIC_PPI_BASE) out.source = 31 - Math.clz32(this.sgiSources(cpu, out.intid) & -this.sgiSources(cpu, out.intid));
    if (out.intid < 0) out.priority = 0xff;
    return out;
  }

  /** Power-on state: everything clear, SGIs enabled and edge-triggered, PPIs and SPIs level-sensitive. */
  reset(): void {
    const { cpus } = this.storage.geometry;
    for (let cpu = 0; cpu < cpus; cpu++) {
      for (let sgi = 0; sgi < GIC_PPI_BASE; sgi++) this.storage.flags[this.storage.slot(cpu, sgi)] = SlotFlag.ENABLED | SlotFlag.EDGE;
    }
  }
}
