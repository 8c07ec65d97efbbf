/**
 * Where the GICv2 model keeps its state: one flat byte buffer (a plain one for a standalone
 * model, or bytes of a device's SharedArrayBuffer so that the instances in every vCPU thread are
 * one GIC). The layout is a function of the geometry only.
 *
 * Per-interrupt state is a "slot": INTIDs 0–31 have one slot per CPU (banked), SPIs one slot each.
 *
 *   header        4 bytes     [0] initialised flag, [1] GICD_CTLR
 *   flags         1 / slot    SlotFlag bits
 *   priority      1 / slot
 *   targets       1 / slot    SPIs only (banked slots read their CPU's own bit)
 *   sgiSources    16 / CPU    pending SGIs by source: bit s of [cpu·16 + sgi] = pending from CPU s
 *   cpu interface 24 / CPU    GICC_CTLR (u32 LE), PMR, BPR, ABPR, driven outputs, APR0–3 (16 bytes)
 */
import { ConfigError } from '@kvmts/core';
import { GIC_SPI_BASE, implementedIntids } from '../intid';

export interface GicV2Geometry {
  /** CPU interfaces, 1–8 (GICv2's ITARGETSR and SGI target lists are 8-bit CPU masks). */
  readonly cpus: number;
  /** Implemented INTIDs: a multiple of 32 in 64–1020 (see implementedIntids). */
  readonly intids: number;
  /** Implemented priority bits, 4–8 (a GIC-400 has 5: 32 levels). */
  readonly priorityBits: number;
}

export const GICV2_MAX_CPUS = 8;
export const GICV2_DEFAULT_PRIORITY_BITS = 5;

/** Bits of a slot's flags byte. */
export const SlotFlag = {
  ENABLED: 1 << 0,
  /** Software or edge pending latch (a level interrupt is also pending while its line is high). */
  LATCH: 1 << 1,
  ACTIVE: 1 << 2,
  /** The input line's level (SPIs and PPIs). */
  LINE: 1 << 3,
  GROUP1: 1 << 4,
  /** Edge-triggered (ICFGR Int_config[1]); clear = level-sensitive. */
  EDGE: 1 << 5,
} as const;

/** Bits of a CPU's driven-outputs byte. */
export const OutputBit = { IRQ: 1 << 0, FIQ: 1 << 1 } as const;

const HEADER_BYTES = 4;
const SGI_SOURCE_BYTES = 16;
const CPU_IF_BYTES = 24;
const CpuIf = { CTLR: 0, PMR: 4, BPR: 5, ABPR: 6, OUTPUTS: 7, APR: 8 } as const;
export const APR_BYTES = 16;

/** Check a geometry (ConfigError names the bad field) and normalise the INTID count. */
export function checkedGicV2Geometry(g: { cpus: number; irqs: number; priorityBits?: number }): GicV2Geometry {
  if (!Number.isInteger(g.cpus) || g.cpus < 1 || g.cpus > GICV2_MAX_CPUS) throw new ConfigError('gic.cpus', `a GICv2 has 1–${GICV2_MAX_CPUS} CPU interfaces, not ${g.cpus}`);
  const intids = implementedIntids(g.irqs);
  const priorityBits = g.priorityBits ?? GICV2_DEFAULT_PRIORITY_BITS;
  if (!Number.isInteger(priorityBits) || priorityBits < 4 || priorityBits > 8) throw new ConfigError('gic.priorityBits', `a GICv2 implements 4–8 priority bits, not ${priorityBits}`);
  return { cpus: g.cpus, intids, priorityBits };
}

/** Slots of a geometry: 32 per CPU, then one per SPI. */
function slotCount(g: GicV2Geometry): number {
  return g.cpus * GIC_SPI_BASE + (g.intids - GIC_SPI_BASE);
}

/** Bytes a model of this geometry keeps. */
export function gicV2StorageBytes(g: GicV2Geometry): number {
  return HEADER_BYTES + 3 * slotCount(g) + g.cpus * (SGI_SOURCE_BYTES + CPU_IF_BYTES);
}

/** Typed views over one model's bytes. Every accessor takes already-checked indices. */
export class GicV2Storage {
  readonly flags: Uint8Array;
  readonly priority: Uint8Array;
  readonly targets: Uint8Array;
  readonly sgiSources: Uint8Array;
  private readonly header: Uint8Array;
  private readonly cpuIf: Uint8Array;
  private readonly cpuIfView: DataView;

  constructor(
    readonly geometry: GicV2Geometry,
    bytes: Uint8Array,
  ) {
    const need = gicV2StorageBytes(geometry);
    if (bytes.byteLength !== need) throw new ConfigError('gic.storage', `a GICv2 with ${geometry.cpus} CPUs and ${geometry.intids} INTIDs keeps ${need} bytes, got ${bytes.byteLength}`);
    const slots = slotCount(geometry);
    let at = 0;
    const take = (n: number): Uint8Array => {
      const view = bytes.subarray(at, at + n);
      at += n;
      return view;
    };
    this.header = take(HEADER_BYTES);
    this.flags = take(slots);
    this.priority = take(slots);
    this.targets = take(slots);
    this.sgiSources = take(geometry.cpus * SGI_SOURCE_BYTES);
    this.cpuIf = take(geometry.cpus * CPU_IF_BYTES);
    this.cpuIfView = new DataView(this.cpuIf.buffer, this.cpuIf.byteOffset, this.cpuIf.byteLength);
  }

  /** The slot of `intid` as seen by `cpu`. */
  slot(cpu: number, intid: number): number {
    return intid < GIC_SPI_BASE ? cpu * GIC_SPI_BASE + intid : this.geometry.cpus * GIC_SPI_BASE + (intid - GIC_SPI_BASE);
  }

  get initialised(): boolean {
    return this.header[0] !== 0;
  }
  set initialised(v: boolean) {
    this.header[0] = v ? 1 : 0;
  }
  get distributorCtlr(): number {
    return this.header[1];
  }
  set distributorCtlr(v: number) {
    this.header[1] = v;
  }

  sgiSourceIndex(cpu: number, sgi: number): number {
    return cpu * SGI_SOURCE_BYTES + sgi;
  }

  cpuCtlr(cpu: number): number {
    return this.cpuIfView.getUint32(cpu * CPU_IF_BYTES + CpuIf.CTLR, true);
  }
  setCpuCtlr(cpu: number, v: number): void {
    this.cpuIfView.setUint32(cpu * CPU_IF_BYTES + CpuIf.CTLR, v >>> 0, true);
  }
  /** One byte of the CPU interface block: 'PMR' | 'BPR' | 'ABPR' | 'OUTPUTS'. */
  cpuByte(cpu: number, field: 'PMR' | 'BPR' | 'ABPR' | 'OUTPUTS'): number {
    return this.cpuIf[cpu * CPU_IF_BYTES + CpuIf[field]];
  }
  setCpuByte(cpu: number, field: 'PMR' | 'BPR' | 'ABPR' | 'OUTPUTS', v: number): void {
    this.cpuIf[cpu * CPU_IF_BYTES + CpuIf[field]] = v;
  }
  /** GICC_APR0–3 of `cpu` as bytes: bit k of byte b = preemption level 8b + k active. */
  apr(cpu: number): Uint8Array {
    const at = cpu * CPU_IF_BYTES + CpuIf.APR;
    return this.cpuIf.subarray(at, at + APR_BYTES);
  }

  /** Zero everything (the caller then applies reset values). */
  clear(): void {
    this.header.fill(0);
    this.flags.fill(0);
    this.priority.fill(0);
    this.targets.fill(0);
    this.sgiSources.fill(0);
    this.cpuIf.fill(0);
  }
}
