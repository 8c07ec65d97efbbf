/**
 * The GICv2 distributor's register decoding (IHI 0048B §4.3). The per-INTID arrays are one table
 * (offset, bits per INTID, whether bytes may be accessed, and how a field reads and writes), so
 * their decoding is written once; the other registers are a switch.
 *
 * Access widths (§4.1.4): every register takes aligned 32-bit accesses; IPRIORITYR, ITARGETSR,
 * CPENDSGIR and SPENDSGIR also take bytes. Any other width or a misaligned access is RAZ/WI, as
 * are reserved offsets and fields of INTIDs the GIC does not implement — a guest access never throws.
 */
import type { GicV2Interrupts } from './interrupts';
import { GICD_ID_REGISTERS, GICD_IIDR_VALUE, Gicd, GicdCtlr, GicdSgir, SgiFilter } from './registers';

interface IntidArray {
  readonly offset: number;
  /** Bytes the array spans in the frame (room for 1024 INTIDs; the unimplemented tail is RAZ/WI). */
  readonly bytes: number;
  readonly bits: 1 | 2 | 8;
  readonly byteAccess: boolean;
  read(irqs: GicV2Interrupts, cpu: number, intid: number): number;
  /** Called for every field of the access; a W1S/W1C array acts on the 1 bits only. */
  write(irqs: GicV2Interrupts, cpu: number, intid: number, field: number): void;
}

const bit = (on: boolean): number => (on ? 1 : 0);

/** ICFGR Int_config[1]: 1 = edge-triggered. Int_config[0] is reserved in GICv2 (RAZ/WI). */
const ICFGR_EDGE = 0b10;

const INTID_ARRAYS: readonly IntidArray[] = [
  { offset: Gicd.IGROUPR, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.group1(c, i)), write: (s, c, i, v) => s.setGroup1(c, i, v !== 0) },
  { offset: Gicd.ISENABLER, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.enabled(c, i)), write: (s, c, i, v) => v && s.setEnabled(c, i, true) },
  { offset: Gicd.ICENABLER, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.enabled(c, i)), write: (s, c, i, v) => v && s.setEnabled(c, i, false) },
  { offset: Gicd.ISPENDR, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.pending(c, i)), write: (s, c, i, v) => v && s.setPendingLatch(c, i, true) },
  { offset: Gicd.ICPENDR, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.pending(c, i)), write: (s, c, i, v) => v && s.setPendingLatch(c, i, false) },
  { offset: Gicd.ISACTIVER, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.active(c, i)), write: (s, c, i, v) => v && s.setActive(c, i, true) },
  { offset: Gicd.ICACTIVER, bytes: 0x80, bits: 1, byteAccess: false, read: (s, c, i) => bit(s.active(c, i)), write: (s, c, i, v) => v && s.setActive(c, i, false) },
  { offset: Gicd.IPRIORITYR, bytes: 0x400, bits: 8, byteAccess: true, read: (s, c, i) => s.priority(c, i), write: (s, c, i, v) => s.setPriority(c, i, v) },
  // Bytes 0–31 are read-only (the reading CPU's own bit); setTargets ignores them.
  { offset: Gicd.ITARGETSR, bytes: 0x400, bits: 8, byteAccess: true, read: (s, c, i) => s.targets(c, i), write: (s, _c, i, v) => s.setTargets(i, v) },
  { offset: Gicd.ICFGR, bytes: 0x100, bits: 2, byteAccess: false, read: (s, c, i) => (s.edge(c, i) ? ICFGR_EDGE : 0), write: (s, c, i, v) => s.setEdge(c, i, (v & ICFGR_EDGE) !== 0) },
];

/** CPENDSGIR / SPENDSGIR: 16 bytes each, byte n = SGI n's pending sources (bit = source CPU). */
const SGI_PENDING_BYTES = 16;

function findArray(offset: number): IntidArray | undefined {
  for (const a of INTID_ARRAYS) if (offset >= a.offset && offset < a.offset + a.bytes) return a;
  return undefined;
}

function accessAllowed(offset: number, size: number, byteAccess: boolean): boolean {
  if (size === 4) return (offset & 3) === 0;
  return size === 1 && byteAccess;
}

const inSgiPending = (offset: number, base: number): boolean => offset >= base && offset < base + SGI_PENDING_BYTES;

export class GicV2Distributor {
  constructor(private readonly irqs: GicV2Interrupts) {}

  /** GICD_TYPER: ITLinesNumber, CPUNumber; no Security Extensions, no LSPIs. */
  get typer(): number {
    const { cpus, intids } = this.irqs.storage.geometry;
    return (Math.ceil(intids / 32) - 1) | ((cpus - 1) << 5);
  }

  read(cpu: number, offset: number, size: number): number {
    const array = findArray(offset);
    if (array !== undefined) return accessAllowed(offset, size, array.byteAccess) ? this.readArray(array, cpu, offset, size) : 0;
    const sgiPendingBase = inSgiPending(offset, Gicd.CPENDSGIR) ? Gicd.CPENDSGIR : inSgiPending(offset, Gicd.SPENDSGIR) ? Gicd.SPENDSGIR : -1;
    if (sgiPendingBase >= 0) {
      if (!accessAllowed(offset, size, true)) return 0;
      let value = 0;
      for (let b = 0; b < size; b++) value |= this.irqs.sgiSources(cpu, offset - sgiPendingBase + b) << (8 * b);
      return value >>> 0;
    }
    if (!accessAllowed(offset, size, false)) return 0;
    switch (offset) {
      case Gicd.CTLR:
        return this.irqs.storage.distributorCtlr;
      case Gicd.TYPER:
        return this.typer;
      case Gicd.IIDR:
        return GICD_IIDR_VALUE;
    }
    // GICD_SGIR is write-only; identification registers read their value; the rest is reserved: RAZ.
    return GICD_ID_REGISTERS.get(offset) ?? 0;
  }

  write(cpu: number, offset: number, size: number, value: number): void {
    const array = findArray(offset);
    if (array !== undefined) {
      if (accessAllowed(offset, size, array.byteAccess)) this.writeArray(array, cpu, offset, size, value);
      return;
    }
    for (const [base, set] of [[Gicd.CPENDSGIR, false], [Gicd.SPENDSGIR, true]] as const) {
      if (!inSgiPending(offset, base)) continue;
      if (!accessAllowed(offset, size, true)) return;
      for (let b = 0; b < size; b++) {
        const sgi = offset - base + b;
        const bits = (value >>> (8 * b)) & 0xff;
        const now = this.irqs.sgiSources(cpu, sgi);
        this.irqs.setSgiSources(cpu, sgi, set ? now | bits : now & ~bits);
      }
      return;
    }
    if (!accessAllowed(offset, size, false)) return;
    switch (offset) {
      case Gicd.CTLR:
        this.irqs.storage.distributorCtlr = value & (GicdCtlr.ENABLE_GRP0 | GicdCtlr.ENABLE_GRP1);
        return;
      case Gicd.SGIR:
        this.sendSgi(cpu, value);
        return;
    }
    // Read-only (TYPER, IIDR, identification) and reserved offsets: WI.
  }

  /**
   * GICD_SGIR (§4.3.15): SGI `value[3:0]` becomes pending, from `cpu`, on the CPUs the filter
   * names; filter 3 is reserved (the write does nothing), as are target bits of absent CPUs.
   */
  sendSgi(cpu: number, value: number): void {
    const sgi = value & GicdSgir.INTID_MASK;
    const all = (1 << this.irqs.storage.geometry.cpus) - 1;
    let targets: number;
    switch ((value >>> GicdSgir.FILTER_SHIFT) & 3) {
      case SgiFilter.LIST:
        targets = (value >>> GicdSgir.TARGETS_SHIFT) & 0xff & all;
        break;
      case SgiFilter.ALL_BUT_SELF:
        targets = all & ~(1 << cpu);
        break;
      case SgiFilter.SELF:
        targets = 1 << cpu;
        break;
      default:
        return;
    }
    for (let t = 0; targets !== 0; t++, targets >>>= 1) {
      if (targets & 1) this.irqs.setSgiSources(t, sgi, this.irqs.sgiSources(t, sgi) | (1 << cpu));
    }
  }

  private readArray(a: IntidArray, cpu: number, offset: number, size: number): number {
    const first = ((offset - a.offset) * 8) / a.bits;
    const fields = (size * 8) / a.bits;
    let value = 0;
    for (let k = 0; k < fields && first + k < this.irqs.intids; k++) value += a.read(this.irqs, cpu, first + k) * 2 ** (k * a.bits);
    return value >>> 0;
  }

  private writeArray(a: IntidArray, cpu: number, offset: number, size: number, value: number): void {
    const first = ((offset - a.offset) * 8) / a.bits;
    const fields = (size * 8) / a.bits;
    const mask = 2 ** a.bits - 1;
    for (let k = 0; k < fields && first + k < this.irqs.intids; k++) a.write(this.irqs, cpu, first + k, Math.floor(value / 2 ** (k * a.bits)) & mask);
  }
}
