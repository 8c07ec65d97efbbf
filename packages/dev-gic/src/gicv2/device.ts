/**
 * The userspace GICv2 as a kvmts device, for arm64 machines without an in-kernel GIC
 * (`archOptions.gic: 'none'`). One instance per vCPU thread plus one on the main thread; the
 * model's bytes live in the device's SharedArrayBuffer, so they are one GIC. Each instance:
 *  - serves its vCPU's accesses to the distributor and CPU-interface frames (two MMIO ranges);
 *  - claims its thread's interrupt lines (DeviceContext.claimIrqLines), so other devices' SPIs
 *    and PPIs — the PL011's, encoded for KVM_IRQ_LINE — arrive as model input lines;
 *  - drives each vCPU's IRQ and FIQ inputs with KVM_IRQ_LINE, irq_type CPU, from whichever
 *    thread changed the state, under the GIC's lock (so levels reach KVM in state order).
 */
import { ConfigError, type AccessSize, type Device, type DeviceContext, type HighWord, type IrqLines, type SharedLayout } from '@kvmts/core';
import { decodeIrqLine, encodeIrqLine } from '@kvmts/arch-arm64';
import { GicV2Model } from './model';
import type { GicV2Geometry } from './storage';
import type { GicV2Fields, GicV2SharedState } from './device-state';

type Frame = 'distributor' | 'cpu-interface';

export class GicV2Device implements Device, IrqLines {
  readonly name: string;
  readonly model: GicV2Model;
  private readonly state: GicV2SharedState;
  /** Where the outputs go: the lines underneath the ones this GIC claimed. */
  private readonly lines: IrqLines;
  /** KVM_IRQ_LINE values of each CPU's IRQ (index 2·cpu) and FIQ (2·cpu + 1) input. */
  private readonly outputLines: Uint32Array;
  private readonly frames: Readonly<Record<Frame, Device>>;

  constructor(
    private readonly ctx: DeviceContext,
    layout: SharedLayout<GicV2Fields>,
    geometry: GicV2Geometry,
  ) {
    this.name = ctx.name;
    if (ctx.vcpuId >= geometry.cpus) {
      throw new ConfigError('gicv2.cpus', `the GIC has ${geometry.cpus} CPU interface(s), but the machine has vCPU ${ctx.vcpuId}: give it cpus: <the machine's vCPU count>`);
    }
    this.state = layout.bind(ctx.shared);
    this.outputLines = Uint32Array.from({ length: 2 * geometry.cpus }, (_, i) => encodeIrqLine({ type: 'cpu', vcpu: i >> 1, line: i & 1 ? 'fiq' : 'irq' }));
    this.lines = ctx.claimIrqLines?.(this) ?? { set: (line, level) => ctx.setIrqLine(line, level) };
    const lock = this.state.lock;
    lock.acquire();
    try {
      // The first instance on the buffer powers the GIC on; the others join its state.
      this.model = new GicV2Model({ cpus: geometry.cpus, irqs: geometry.intids, priorityBits: geometry.priorityBits, storage: this.state.model, onOutput: (cpu, line, level) => this.lines.set(this.outputLines[2 * cpu + (line === 'fiq' ? 1 : 0)], level) });
    } finally {
      lock.release();
    }
    this.frames = { distributor: this.frameDevice('distributor'), 'cpu-interface': this.frameDevice('cpu-interface') };
  }

  /** Range 0 of the placement is the distributor, range 1 the CPU interface. */
  forRange(_space: string, index: number): Device {
    return index === 0 ? this.frames.distributor : this.frames['cpu-interface'];
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    return this.access('distributor', offset, size, 0, false, out);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.access('distributor', offset, size, value, true, undefined);
  }

  /**
   * A line another device (or the host) drives, as a KVM_IRQ_LINE value: SPIs and PPIs become
   * model input lines; a CPU-type line passes through to KVM. A line the GIC lacks is a ConfigError.
   */
  set(line: number, level: boolean): void {
    const decoded = decodeIrqLine(line);
    if (decoded.type === 'cpu') {
      this.lines.set(line, level);
      return;
    }
    this.locked(() => this.model.setLevel(decoded.intid, level, decoded.type === 'ppi' ? decoded.vcpu : undefined));
  }

  /** Host side: drive SPI `intid` (32…), or PPI `intid` (16–31) of `cpu`. */
  setLevel(intid: number, level: boolean, cpu?: number): void {
    this.locked(() => this.model.setLevel(intid, level, cpu));
  }

  reset(): void {
    this.locked(() => this.model.reset());
  }

  /** The VM the state was saved from is not this one: drive every output to its restored level. */
  afterRestore(): void {
    this.locked(() => this.model.updateOutputs(true));
  }

  private locked<T>(body: () => T): T {
    const lock = this.state.lock;
    lock.acquire();
    try {
      return body();
    } finally {
      lock.release();
    }
  }

  /** The exit path: no closure per access, the lock taken inline. */
  private access(frame: Frame, offset: number, size: AccessSize, value: number, write: boolean, out: HighWord | undefined): number {
    if (out) out.high = 0; // 8-byte accesses are RAZ/WI: no GICv2 register is 64 bits wide
    const cpu = this.ctx.vcpuId;
    if (cpu < 0) return 0; // the main thread's instance sits on no bus
    const lock = this.state.lock;
    lock.acquire();
    try {
      if (frame === 'distributor') {
        if (write) this.model.writeDistributor(cpu, offset, size, value);
        else return this.model.readDistributor(cpu, offset, size);
      } else if (write) this.model.writeCpuInterface(cpu, offset, size, value);
      else return this.model.readCpuInterface(cpu, offset, size);
      return 0;
    } finally {
      lock.release();
    }
  }

  private frameDevice(frame: Frame): Device {
    return {
      name: `${this.name}/${frame}`,
      read: (offset, size, out) => this.access(frame, offset, size, 0, false, out),
      write: (offset, size, value) => void this.access(frame, offset, size, value, true, undefined),
    };
  }
}
