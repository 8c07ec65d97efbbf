/**
 * The GICv2 CPU interface (IHI 0048B §3.3, §4.4): priority masking, binary points, running
 * priority kept as active-priority bits (GICC_APRn), acknowledge, priority drop and deactivation,
 * and which output (IRQ or FIQ) a CPU's highest pending interrupt is signalled on.
 *
 * Modelled as a GICv2 without the Security Extensions, with interrupt groups (what KVM's vGICv2
 * emulates): Group 0 goes to FIQ when GICC_CTLR.FIQEn is set, else to IRQ; Group 1 to IRQ.
 * The aliased registers (GICC_ABPR, AIAR, AEOIR, AHPPIR) are the Group 1 views, as the
 * specification gives them to a GIC without Security Extensions.
 */
import { GIC_SPURIOUS_INTID } from '../intid';
import { PendingInterrupt, type GicV2Interrupts } from './interrupts';
import { GICC_CTLR_WRITABLE, GICC_IIDR_VALUE, Gicc, GiccCtlr } from './registers';
import { APR_BYTES, OutputBit, type GicV2Storage } from './storage';

/** GICC_IAR / HPPIR when the highest pending interrupt is Group 1 and GICC_CTLR.AckCtl is 0. */
export const GIC_GROUP1_PENDING_INTID = 1022;
const IDLE_PRIORITY = 0xff;
const INTID_MASK = 0x3ff;
const SOURCE_SHIFT = 10;
const SOURCE_MASK = 0x7;

export class GicV2CpuInterfaces {
  /** Smallest GICC_BPR value (§3.3.3): the one whose group priority keeps every implemented bit but bit 0. */
  readonly minBpr: number;
  /** Preemption levels are group priorities >> levelShift: APR bit n ⇔ group priority n << levelShift active. */
  private readonly levelShift: number;
  /** APR bytes that hold implemented preemption levels; the rest are RAZ/WI. */
  private readonly aprBytesUsed: number;
  private readonly found = new PendingInterrupt();

  constructor(
    private readonly storage: GicV2Storage,
    private readonly irqs: GicV2Interrupts,
  ) {
    const levelBits = Math.min(storage.geometry.priorityBits, 7);
    this.minBpr = 7 - levelBits;
    this.levelShift = 8 - levelBits;
    this.aprBytesUsed = Math.max(1, (1 << levelBits) / 8);
  }

  /**
   * Group priority of `priority` on `cpu` (§3.3.3): the bits above the binary point. Group 1 uses
   * GICC_ABPR, whose value n splits like GICC_BPR n − 1, unless GICC_CTLR.CBPR makes it share BPR.
   */
  groupPriority(cpu: number, priority: number, group1: boolean): number {
    const ctlr = this.storage.cpuCtlr(cpu);
    const bpr = group1 && (ctlr & GiccCtlr.CBPR) === 0 ? this.storage.cpuByte(cpu, 'ABPR') - 1 : this.storage.cpuByte(cpu, 'BPR');
    return priority & ((0xff << (bpr + 1)) & 0xff);
  }

  /** GICC_RPR: the group priority of the highest active preemption level, 0xFF when idle. */
  runningPriority(cpu: number): number {
    const apr = this.storage.apr(cpu);
    for (let b = 0; b < APR_BYTES; b++) {
      const byte = apr[b];
      if (byte !== 0) return ((b * 8 + (31 - Math.clz32(byte & -byte))) << this.levelShift) & 0xff;
    }
    return IDLE_PRIORITY;
  }

  /** Whether the highest pending interrupt `p` passes the priority mask and preempts what runs. */
  private deliverable(cpu: number, p: PendingInterrupt): boolean {
    return p.intid >= 0 && p.priority < this.storage.cpuByte(cpu, 'PMR') && this.groupPriority(cpu, p.priority, p.group1) < this.runningPriority(cpu);
  }

  /** The outputs (OutputBit) `cpu`'s interface asserts now. */
  outputs(cpu: number): number {
    const ctlr = this.storage.cpuCtlr(cpu);
    const p = this.irqs.highestPending(cpu, ctlr, this.found);
    if (!this.deliverable(cpu, p)) return 0;
    return !p.group1 && (ctlr & GiccCtlr.FIQ_EN) !== 0 ? OutputBit.FIQ : OutputBit.IRQ;
  }

  /** GICC_IAR (`alias` false) or GICC_AIAR (true, Group 1 only): acknowledge and return the INTID (with an SGI's source CPU in bits 12:10). */
  acknowledge(cpu: number, alias: boolean): number {
    const ctlr = this.storage.cpuCtlr(cpu);
    const p = this.irqs.highestPending(cpu, ctlr, this.found);
    if (!this.deliverable(cpu, p)) return GIC_SPURIOUS_INTID;
    if (alias ? !p.group1 : p.group1 && (ctlr & GiccCtlr.ACK_CTL) === 0) return alias ? GIC_SPURIOUS_INTID : GIC_GROUP1_PENDING_INTID;
    const level = this.groupPriority(cpu, p.priority, p.group1) >>> this.levelShift;
    this.storage.apr(cpu)[level >>> 3] |= 1 << (level & 7);
    this.irqs.acknowledge(cpu, p.intid, p.source);
    return p.intid < 16 ? p.intid | (p.source << SOURCE_SHIFT) : p.intid;
  }

  /** GICC_HPPIR / AHPPIR: what IAR / AIAR would return, without acknowledging (PMR applies, running priority does not). */
  highestPendingIntid(cpu: number, alias: boolean): number {
    const ctlr = this.storage.cpuCtlr(cpu);
    const p = this.irqs.highestPending(cpu, ctlr, this.found);
    if (p.intid < 0 || p.priority >= this.storage.cpuByte(cpu, 'PMR')) return GIC_SPURIOUS_INTID;
    if (alias ? !p.group1 : p.group1 && (ctlr & GiccCtlr.ACK_CTL) === 0) return alias ? GIC_SPURIOUS_INTID : GIC_GROUP1_PENDING_INTID;
    return p.intid < 16 ? p.intid | (p.source << SOURCE_SHIFT) : p.intid;
  }

  /**
   * GICC_EOIR / AEOIR: priority drop — the highest active preemption level is cleared (an EOI
   * must name the most recently acknowledged interrupt, §4.4.5) — then deactivation unless the
   * register's EOImode bit splits it off to GICC_DIR. INTIDs the GIC does not implement (the
   * special 1020–1023 included) are ignored.
   */
  endOfInterrupt(cpu: number, value: number, alias: boolean): void {
    const intid = value & INTID_MASK;
    if (intid >= this.irqs.intids) return;
    const apr = this.storage.apr(cpu);
    for (let b = 0; b < APR_BYTES; b++) {
      if (apr[b] !== 0) {
        apr[b] &= apr[b] - 1;
        break;
      }
    }
    const split = (this.storage.cpuCtlr(cpu) & (alias ? GiccCtlr.EOI_MODE_NS : GiccCtlr.EOI_MODE)) !== 0;
    if (!split) this.irqs.setActive(cpu, intid, false);
  }

  /** GICC_DIR: deactivate, when an EOImode bit says EOIR does not (else the write is ignored: §4.4.15 calls it UNPREDICTABLE). */
  deactivate(cpu: number, value: number): void {
    const intid = value & INTID_MASK;
    if (intid >= this.irqs.intids) return;
    if ((this.storage.cpuCtlr(cpu) & (GiccCtlr.EOI_MODE | GiccCtlr.EOI_MODE_NS)) !== 0) this.irqs.setActive(cpu, intid, false);
  }

  /** A 32-bit read of the CPU interface frame. Offsets without a register are RAZ. */
  read(cpu: number, offset: number): number {
    switch (offset) {
      case Gicc.CTLR:
        return this.storage.cpuCtlr(cpu);
      case Gicc.PMR:
        return this.storage.cpuByte(cpu, 'PMR');
      case Gicc.BPR:
        return this.storage.cpuByte(cpu, 'BPR');
      case Gicc.ABPR:
        return this.storage.cpuByte(cpu, 'ABPR');
      case Gicc.IAR:
        return this.acknowledge(cpu, false);
      case Gicc.AIAR:
        return this.acknowledge(cpu, true);
      case Gicc.RPR:
        return this.runningPriority(cpu);
      case Gicc.HPPIR:
        return this.highestPendingIntid(cpu, false);
      case Gicc.AHPPIR:
        return this.highestPendingIntid(cpu, true);
      case Gicc.IIDR:
        return GICC_IIDR_VALUE;
    }
    if (offset >= Gicc.APR && offset < Gicc.APR + APR_BYTES) return this.aprWord(cpu, (offset - Gicc.APR) >>> 2);
    // GICC_NSAPRn (no Security Extensions), write-only EOIR/AEOIR/DIR and reserved space: RAZ.
    return 0;
  }

  /** A 32-bit write of the CPU interface frame. Read-only and reserved offsets are WI. */
  write(cpu: number, offset: number, value: number): void {
    switch (offset) {
      case Gicc.CTLR:
        this.storage.setCpuCtlr(cpu, value & GICC_CTLR_WRITABLE);
        return;
      case Gicc.PMR:
        this.storage.setCpuByte(cpu, 'PMR', value & this.irqs.priorityMask);
        return;
      case Gicc.BPR:
        // A value below the minimum sets the minimum (§4.4.3).
        this.storage.setCpuByte(cpu, 'BPR', Math.max(value & 7, this.minBpr));
        return;
      case Gicc.ABPR:
        this.storage.setCpuByte(cpu, 'ABPR', Math.max(value & 7, this.minBpr + 1));
        return;
      case Gicc.EOIR:
        this.endOfInterrupt(cpu, value, false);
        return;
      case Gicc.AEOIR:
        this.endOfInterrupt(cpu, value, true);
        return;
      case Gicc.DIR:
        this.deactivate(cpu, value);
        return;
    }
    if (offset >= Gicc.APR && offset < Gicc.APR + APR_BYTES) this.setAprWord(cpu, (offset - Gicc.APR) >>> 2, value);
  }

  /** GICC_APRn: bit k of word n = preemption level 32n + k active; words past the implemented levels are RAZ/WI. */
  private aprWord(cpu: number, n: number): number {
    const apr = this.storage.apr(cpu);
    let word = 0;
    for (let b = 0; b < 4; b++) if (n * 4 + b < this.aprBytesUsed) word |= apr[n * 4 + b] << (8 * b);
    return word >>> 0;
  }

  private setAprWord(cpu: number, n: number, value: number): void {
    const apr = this.storage.apr(cpu);
    for (let b = 0; b < 4; b++) if (n * 4 + b < this.aprBytesUsed) apr[n * 4 + b] = (value >>> (8 * b)) & 0xff;
  }

  /** Power-on values: everything 0 but the binary points, at their minimum. */
  reset(): void {
    for (let cpu = 0; cpu < this.storage.geometry.cpus; cpu++) {
      this.storage.setCpuByte(cpu, 'BPR', this.minBpr);
      this.storage.setCpuByte(cpu, 'ABPR', this.minBpr + 1);
    }
  }
}
