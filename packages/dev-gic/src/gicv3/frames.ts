/**
 * The distributor and redistributor frames of the GICv3 model as 32-bit registers, in two
 * views of one state:
 *
 *   'guest'  what a CPU's loads and stores see (Arm IHI 0069 chapter 12): write-1-to-set and
 *            write-1-to-clear bits, read-only identification, reserved bits RAZ/WI, priorities
 *            cut to the implemented bits, ISPENDR/ICPENDR reading latch-or-line;
 *   'user'   what KVM's vGICv3 device attributes see (arm-vgic-v3.rst): registers hold what is
 *            written, ISPENDR reads and writes the pending *latch* (ICPENDR is RAZ/WI), line
 *            levels travel through LEVEL_INFO instead — so state read from KVM and written here
 *            reads back word for word, and back again.
 */
import { GIC_SPI_BASE } from '../intid';
import { GICR_SGI_FRAME_OFFSET } from '../kernel/v3-attr';
import { ICFGR_EDGE, IROUTER_IRM, type GicV3Interrupts } from './interrupts';
import { GICD_PER_INTID, GICR_SGI_PER_INTID, Gicd, GicdCtlr, Gicr, GicrWaker, GicV3Id, perIntidAt, type PerIntidRegister } from './registers';

export type GicV3View = 'guest' | 'user';

/** Identification registers: what the GIC reports about its make-up (a mux copies the kernel's). */
export interface GicV3Identity {
  readonly gicdTyper: number;
  readonly gicdIidr: number;
  readonly gicrIidr: number;
  /** GICR_TYPER of each redistributor. */
  readonly gicrTypers: readonly bigint[];
}

/** IROUTER bits a guest can set: Aff3 (39:32), IRM (31), Aff2.Aff1.Aff0 (23:0). */
const IROUTER_WRITABLE = 0xff_0000_0000n | IROUTER_IRM | 0xff_ffffn;
const GUEST_CTLR_BITS = GicdCtlr.ENABLE_GRP0 | GicdCtlr.ENABLE_GRP1;
/** SGIs 0–15 of the redistributor: their ICFGR fields are read-only (edge) and only they have NSACR fields. */
const SGI_COUNT = 16;

/** Word registers of the distributor and of each redistributor that are plain storage. */
export class GicV3FrameState {
  gicdCtlr = GicdCtlr.ARE | GicdCtlr.DS;
  gicdStatusr = 0;
  gicdIidr: number;
  readonly rd: { ctlr: number; statusr: number; waker: number; propbaser: bigint; pendbaser: bigint }[];

  constructor(
    cpus: number,
    public identity: GicV3Identity,
  ) {
    this.gicdIidr = identity.gicdIidr;
    this.rd = Array.from({ length: cpus }, () => ({ ctlr: 0, statusr: 0, waker: GicrWaker.PROCESSOR_SLEEP | GicrWaker.CHILDREN_ASLEEP, propbaser: 0n, pendbaser: 0n }));
  }
}

const half = (v: bigint, high: boolean): number => Number((high ? v >> 32n : v) & 0xffff_ffffn);
const withHalf = (v: bigint, high: boolean, word: number): bigint => (high ? (v & 0xffff_ffffn) | (BigInt(word >>> 0) << 32n) : (v & ~0xffff_ffffn) | BigInt(word >>> 0));

export class GicV3Frames {
  constructor(
    private readonly irqs: GicV3Interrupts,
    readonly state: GicV3FrameState,
    private readonly priorityMask: number,
  ) {}

  /** Read the distributor word at `offset` (4-byte aligned). */
  readDistributor(offset: number, view: GicV3View): number {
    const s = this.state;
    switch (offset) {
      case Gicd.CTLR:
        return view === 'guest' ? (s.gicdCtlr & GUEST_CTLR_BITS) | GicdCtlr.ARE | GicdCtlr.DS : s.gicdCtlr >>> 0;
      case Gicd.TYPER:
        return s.identity.gicdTyper >>> 0;
      case Gicd.IIDR:
        return s.gicdIidr >>> 0;
      case Gicd.STATUSR:
        return s.gicdStatusr >>> 0;
      case GicV3Id.PIDR2:
        return GicV3Id.PIDR2_GICV3;
    }
    const route = this.routeWord(offset);
    if (route !== undefined) return route.intid < GIC_SPI_BASE ? 0 : half(this.irqs.route[route.intid], route.high);
    const at = perIntidAt(GICD_PER_INTID, offset, this.irqs.geometry.nrIrqs);
    if (at === undefined || at.firstIntid < GIC_SPI_BASE) return 0; // INTIDs 0–31 are the redistributors' with affinity routing
    return this.readPerIntid(at.reg, at.firstIntid, 0, view);
  }

  writeDistributor(offset: number, value: number, view: GicV3View): void {
    const s = this.state;
    switch (offset) {
      case Gicd.CTLR:
        s.gicdCtlr = view === 'guest' ? (s.gicdCtlr & ~GUEST_CTLR_BITS) | (value & GUEST_CTLR_BITS) : value >>> 0;
        return;
      case Gicd.IIDR:
        if (view === 'user') s.gicdIidr = value >>> 0; // KVM takes the implementation revision userspace expects
        return;
      case Gicd.STATUSR:
        s.gicdStatusr = view === 'guest' ? s.gicdStatusr & ~value : value >>> 0;
        return;
    }
    const route = this.routeWord(offset);
    if (route !== undefined) {
      if (route.intid < GIC_SPI_BASE) return;
      const v = withHalf(this.irqs.route[route.intid], route.high, value);
      this.irqs.route[route.intid] = view === 'guest' ? v & IROUTER_WRITABLE : v;
      return;
    }
    const at = perIntidAt(GICD_PER_INTID, offset, this.irqs.geometry.nrIrqs);
    if (at === undefined || at.firstIntid < GIC_SPI_BASE) return;
    this.writePerIntid(at.reg, at.firstIntid, 0, value, view);
  }

  /** Read word `offset` of CPU `cpu`'s redistributor (RD_base frame, SGI_base frame at GICR_SGI_FRAME_OFFSET). */
  readRedistributor(cpu: number, offset: number, view: GicV3View): number {
    const rd = this.rdOf(cpu);
    if (offset >= GICR_SGI_FRAME_OFFSET) {
      const at = perIntidAt(GICR_SGI_PER_INTID, offset - GICR_SGI_FRAME_OFFSET, GIC_SPI_BASE);
      return at === undefined ? 0 : this.readPerIntid(at.reg, at.firstIntid, cpu, view);
    }
    switch (offset) {
      case Gicr.CTLR:
        return rd.ctlr >>> 0;
      case GicV3Id.GICR_IIDR:
        return this.state.identity.gicrIidr >>> 0;
      case Gicr.TYPER:
      case Gicr.TYPER + 4:
        return half(this.state.identity.gicrTypers[cpu], offset !== Gicr.TYPER);
      case Gicr.STATUSR:
        return rd.statusr >>> 0;
      case Gicr.WAKER:
        // ChildrenAsleep follows ProcessorSleep at once: there is no interface to quiesce.
        return view === 'guest' ? (rd.waker & GicrWaker.PROCESSOR_SLEEP) | ((rd.waker & GicrWaker.PROCESSOR_SLEEP) << 1) : rd.waker >>> 0;
      case Gicr.PROPBASER:
      case Gicr.PROPBASER + 4:
        return half(rd.propbaser, offset !== Gicr.PROPBASER);
      case Gicr.PENDBASER:
      case Gicr.PENDBASER + 4:
        return half(rd.pendbaser, offset !== Gicr.PENDBASER);
      case GicV3Id.PIDR2:
        return GicV3Id.PIDR2_GICV3;
    }
    return 0;
  }

  writeRedistributor(cpu: number, offset: number, value: number, view: GicV3View): void {
    const rd = this.rdOf(cpu);
    if (offset >= GICR_SGI_FRAME_OFFSET) {
      const at = perIntidAt(GICR_SGI_PER_INTID, offset - GICR_SGI_FRAME_OFFSET, GIC_SPI_BASE);
      if (at !== undefined) this.writePerIntid(at.reg, at.firstIntid, cpu, value, view);
      return;
    }
    switch (offset) {
      case Gicr.CTLR:
        if (view === 'user') rd.ctlr = value >>> 0; // EnableLPIs: the model has no LPIs (GICD_TYPER.LPIS 0), so RES0 to a guest
        return;
      case Gicr.STATUSR:
        rd.statusr = view === 'guest' ? rd.statusr & ~value : value >>> 0;
        return;
      case Gicr.WAKER:
        rd.waker = view === 'guest' ? value & GicrWaker.PROCESSOR_SLEEP : value >>> 0;
        return;
      case Gicr.PROPBASER:
      case Gicr.PROPBASER + 4:
        rd.propbaser = withHalf(rd.propbaser, offset !== Gicr.PROPBASER, value);
        return;
      case Gicr.PENDBASER:
      case Gicr.PENDBASER + 4:
        rd.pendbaser = withHalf(rd.pendbaser, offset !== Gicr.PENDBASER, value);
        return;
    }
  }

  private rdOf(cpu: number) {
    const rd = this.state.rd[cpu];
    if (rd === undefined) throw new RangeError(`no redistributor ${cpu}`);
    return rd;
  }

  /** An IROUTER<n> word: n and which half. */
  private routeWord(offset: number): { intid: number; high: boolean } | undefined {
    const rel = offset - Gicd.IROUTER;
    if (rel < 0 || rel >= 8 * this.irqs.geometry.nrIrqs) return undefined;
    return { intid: rel >> 3, high: (rel & 4) !== 0 };
  }

  private readPerIntid(reg: PerIntidRegister, first: number, cpu: number, view: GicV3View): number {
    const bits = reg.bitsPerIntid;
    const irqs = this.irqs;
    let word = 0;
    for (let i = 0; i < 32 / bits; i++) {
      const intid = first + i;
      const slot = irqs.slot(cpu, intid);
      let field = 0;
      const b = reg.behaviour;
      if (b.kind === 'field') {
        if (b.field === 'priority') field = irqs.priority[slot];
        else if (b.field === 'config') field = irqs.config[slot];
        else if (b.field === 'nsacr') field = view === 'guest' || (first < GIC_SPI_BASE && intid >= SGI_COUNT) ? 0 : irqs.nsacr[slot];
        else field = irqs[b.field as 'group' | 'grpmod'][slot];
      } else if (b.field === 'pending') {
        if (view === 'guest') field = irqs.isPending(slot) ? 1 : 0;
        else field = b.kind === 'set' ? irqs.latch[slot] : 0; // KVM: ISPENDR is the latch, ICPENDR RAZ
      } else field = irqs[b.field][slot];
      word |= field << (i * bits);
    }
    return word >>> 0;
  }

  private writePerIntid(reg: PerIntidRegister, first: number, cpu: number, value: number, view: GicV3View): void {
    const bits = reg.bitsPerIntid;
    const mask = (1 << bits) - 1; // 1, 2 or 8 bits (IROUTER, 64, is handled as words)
    const irqs = this.irqs;
    const b = reg.behaviour;
    for (let i = 0; i < 32 / bits; i++) {
      const intid = first + i;
      const slot = irqs.slot(cpu, intid);
      const field = (value >>> (i * bits)) & mask;
      if (b.kind === 'field') {
        if (b.field === 'priority') irqs.priority[slot] = view === 'guest' ? field & this.priorityMask : field;
        else if (b.field === 'config') {
          if (intid < SGI_COUNT) continue; // SGIs are always edge-triggered
          irqs.config[slot] = view === 'guest' ? field & ICFGR_EDGE : field;
        } else if (b.field === 'nsacr') {
          if (view === 'user' && !(first < GIC_SPI_BASE && intid >= SGI_COUNT)) irqs.nsacr[slot] = field; // RAZ/WI to a guest of a one-security-state GIC
        } else irqs[b.field as 'group' | 'grpmod'][slot] = field;
        continue;
      }
      if (b.field === 'pending' && view === 'user') {
        if (b.kind === 'set') irqs.latch[slot] = field; // KVM: the latch takes the value written
        continue;
      }
      if (!field) continue;
      const target = b.field === 'pending' ? irqs.latch : irqs[b.field];
      target[slot] = b.kind === 'set' ? 1 : 0;
    }
  }
}
