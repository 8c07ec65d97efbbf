/**
 * A userspace GICv2 (PL390 / GIC-400 compatible: IHI 0048B) as pure logic: a distributor and
 * one CPU interface per CPU, register access as each CPU, input lines for PPIs and SPIs, and an
 * IRQ and a FIQ output per CPU reported through a listener whenever their level changes.
 * Written by hand: no maintained JavaScript GIC model exists.
 *
 * The state lives in one byte buffer (storage.ts): give the model bytes of a SharedArrayBuffer
 * and every model over them is the same GIC (the kvmts device does this, one model per vCPU
 * thread, under a lock). Outputs last driven are part of that state, so a level change is
 * reported once, by whichever model made it.
 */
import { ConfigError } from '@kvmts/core';
import { GIC_PPI_BASE, GIC_SPI_BASE } from '../intid';
import { GicV2CpuInterfaces } from './cpu-interface';
import { GicV2Distributor } from './distributor';
import { GicV2Interrupts } from './interrupts';
import { GICC_FRAME_BYTES, GICD_FRAME_BYTES } from './registers';
import { checkedGicV2Geometry, gicV2StorageBytes, GicV2Storage, OutputBit, type GicV2Geometry } from './storage';

export type GicOutputLine = 'irq' | 'fiq';
/** Called when a CPU's IRQ or FIQ output changes level. */
export type GicOutputListener = (cpu: number, line: GicOutputLine, level: boolean) => void;

export interface GicV2ModelOptions {
  /** CPU interfaces, 1–8. */
  readonly cpus: number;
  /** Interrupts including the 32 SGIs/PPIs: 64–1020, rounded up to a multiple of 32. */
  readonly irqs: number;
  /** Implemented priority bits, 4–8. Default 5 (a GIC-400's 32 levels). */
  readonly priorityBits?: number;
  /**
   * The bytes to keep the state in (exactly gicV2ModelBytes(options)); all-zero bytes are reset
   * first, bytes a model already initialised are joined as they are. Default: private bytes.
   */
  readonly storage?: Uint8Array;
  readonly onOutput?: GicOutputListener;
}

/** Bytes of state a model with these options keeps. */
export function gicV2ModelBytes(options: Pick<GicV2ModelOptions, 'cpus' | 'irqs' | 'priorityBits'>): number {
  return gicV2StorageBytes(checkedGicV2Geometry(options));
}

const OUTPUT_LINES: readonly (readonly [GicOutputLine, number])[] = [
  ['irq', OutputBit.IRQ],
  ['fiq', OutputBit.FIQ],
];

/** Only aligned 32-bit accesses reach the CPU interface (§4.1.4); anything else is RAZ/WI. */
const cpuInterfaceAccess = (offset: number, size: number): boolean => size === 4 && (offset & 3) === 0 && offset >= 0 && offset < GICC_FRAME_BYTES;

export class GicV2Model {
  readonly geometry: GicV2Geometry;
  /** Internal parts, for this package's state transfer. */
  readonly storage: GicV2Storage;
  readonly interrupts: GicV2Interrupts;
  readonly cpuInterfaces: GicV2CpuInterfaces;
  readonly distributorRegisters: GicV2Distributor;
  private readonly onOutput: GicOutputListener | undefined;

  constructor(options: GicV2ModelOptions) {
    this.geometry = checkedGicV2Geometry(options);
    this.storage = new GicV2Storage(this.geometry, options.storage ?? new Uint8Array(gicV2StorageBytes(this.geometry)));
    this.interrupts = new GicV2Interrupts(this.storage);
    this.cpuInterfaces = new GicV2CpuInterfaces(this.storage, this.interrupts);
    this.distributorRegisters = new GicV2Distributor(this.interrupts);
    this.onOutput = options.onOutput;
    if (!this.storage.initialised) this.reset();
  }

  /** Power-on state (every register at its reset value; outputs low, reported if they were high). */
  reset(): void {
    const wasDriven = Array.from({ length: this.geometry.cpus }, (_, cpu) => this.storage.cpuByte(cpu, 'OUTPUTS'));
    this.storage.clear();
    this.interrupts.reset();
    this.cpuInterfaces.reset();
    this.storage.initialised = true;
    wasDriven.forEach((bits, cpu) => this.storage.setCpuByte(cpu, 'OUTPUTS', bits));
    this.updateOutputs();
  }

  /** A guest read of the distributor frame as `cpu` (`size` 1, 2, 4 or 8 bytes; unsupported widths read 0). */
  readDistributor(cpu: number, offset: number, size: number): number {
    this.checkCpu(cpu);
    if (offset < 0 || offset >= GICD_FRAME_BYTES) return 0;
    return this.distributorRegisters.read(cpu, offset, size);
  }

  writeDistributor(cpu: number, offset: number, size: number, value: number): void {
    this.checkCpu(cpu);
    if (offset >= 0 && offset < GICD_FRAME_BYTES) this.distributorRegisters.write(cpu, offset, size, value >>> 0);
    this.updateOutputs();
  }

  /** A guest read of the CPU interface frame by `cpu` (reading GICC_IAR acknowledges). */
  readCpuInterface(cpu: number, offset: number, size: number): number {
    this.checkCpu(cpu);
    if (!cpuInterfaceAccess(offset, size)) return 0;
    const value = this.cpuInterfaces.read(cpu, offset);
    this.updateOutputs();
    return value >>> 0;
  }

  writeCpuInterface(cpu: number, offset: number, size: number, value: number): void {
    this.checkCpu(cpu);
    if (cpuInterfaceAccess(offset, size)) this.cpuInterfaces.write(cpu, offset, value >>> 0);
    this.updateOutputs();
  }

  /**
   * Drive the input line of an SPI (INTID 32…), or of `cpu`'s PPI (INTID 16–31). SGIs have no
   * line (a CPU sends them through GICD_SGIR). ConfigError for an INTID or CPU the GIC lacks.
   */
  setLevel(intid: number, level: boolean, cpu?: number): void {
    if (!Number.isInteger(intid) || intid < GIC_PPI_BASE || intid >= this.geometry.intids) {
      throw new ConfigError('intid', `this GIC's input lines are INTIDs ${GIC_PPI_BASE}–${this.geometry.intids - 1} (PPIs and SPIs), not ${intid}`);
    }
    if (intid < GIC_SPI_BASE) {
      if (cpu === undefined) throw new ConfigError('cpu', `PPI ${intid} is banked per CPU: say which CPU's line it is`);
      this.checkCpu(cpu);
    } else if (cpu !== undefined) {
      throw new ConfigError('cpu', `SPI ${intid} is shared: it has one line, not one per CPU (got cpu ${cpu})`);
    }
    this.interrupts.setLine(cpu ?? 0, intid, level);
    this.updateOutputs();
  }

  /** The level `cpu`'s IRQ or FIQ output was last driven to. */
  outputLevel(cpu: number, line: GicOutputLine): boolean {
    this.checkCpu(cpu);
    return (this.storage.cpuByte(cpu, 'OUTPUTS') & (line === 'irq' ? OutputBit.IRQ : OutputBit.FIQ)) !== 0;
  }

  /**
   * Recompute every output and report the ones that changed — or, with `force`, report every
   * output's level (after a restore, when whoever listens has not seen them).
   */
  updateOutputs(force = false): void {
    for (let cpu = 0; cpu < this.geometry.cpus; cpu++) {
      const now = this.cpuInterfaces.outputs(cpu);
      const before = this.storage.cpuByte(cpu, 'OUTPUTS');
      if (now === before && !force) continue;
      this.storage.setCpuByte(cpu, 'OUTPUTS', now);
      if (this.onOutput === undefined) continue;
      for (const [line, bit] of OUTPUT_LINES) if (force || ((now ^ before) & bit) !== 0) this.onOutput(cpu, line, (now & bit) !== 0);
    }
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.geometry.cpus) throw new ConfigError('cpu', `this GIC has CPU interfaces 0–${this.geometry.cpus - 1}, not ${cpu}`);
  }
}
