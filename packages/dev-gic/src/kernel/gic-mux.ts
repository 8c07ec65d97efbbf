/**
 * The muxing GIC (gem5's MuxingKvmGic, without its bugs): a machine's in-kernel vGICv3 is the
 * GIC while KVM runs its vCPUs; while their threads are with simulated CPUs the userspace GICv3
 * model (../gicv3/) is. The hand-over is the checkpoint code's state transfer pointed at the
 * model: saveVgicV3 reads the kernel (distributor, each redistributor, each CPU interface's ICC
 * registers, LEVEL_INFO line levels) and restoreVgicV3 writes it into the model through the
 * model's device-attribute face (../gicv3/attr-io.ts) — GICD_IIDR first, configuration before
 * line levels before pending latches before enables and active bits. Back is the same with the
 * roles swapped, so the kernel gets the state in the order KVM needs.
 *
 * While the model holds the GIC, everything that raises an interrupt reaches the model:
 *  - KernelGic.setSpi/setPpi (the host's injection) drive the model's input lines;
 *  - the machine's device lines — main thread and vCPU threads alike — are claimed (core's
 *    MachineIrqLines, handed to the switch hook) and go through ./gic-line-input.ts to the same
 *    inputs. A level line still high when the state goes back is in the model's LEVEL_INFO, which
 *    restoreVgicV3 writes into KVM's line level; after the hand-back the lines go to KVM again;
 *  - the VM's irqfds are taken from the kernel (core's IrqfdDiversion): the main thread reads their
 *    eventfds and pulses the SPI (GSI + 32, KVM's default routing with a vGIC) in the model. On the
 *    way back the last triggers are read before the state moves, and KVM itself injects one written
 *    after that when the irqfd is bound again. Routing them through userspace rather than refusing
 *    the switch keeps machines with irqfd-driven devices (virtio) switchable; the cost is a
 *    poll of the eventfds (every millisecond) while switched out.
 * The machine's checkpoint section gic.vgic-v3 is saved from (and restored into) the model.
 *
 * Not muxed: a GIC with an ITS (LPIs and the ITS's tables are not modelled: refused, naming
 * it), and a vGICv2 (this host offers none to prove it on).
 */
import {
  ConfigError,
  IrqfdDiversion,
  committedGsiRouting,
  KvmError,
  LifecycleError,
  kernelIrqfdRoute,
  type IrqfdRoute,
  type KvmVM,
  type MachineIrqLines,
  type MachineSwitchContext,
  type MachineSwitchHook,
  type MachineSwitchHookFactory,
} from '@kvmts/core';
import { Arm64VgicGroup } from '@kvmts/arch-arm64';
import { GicV3Model, defaultGicV3Identity } from '../gicv3/model';
import { gicV3AttrIo } from '../gicv3/attr-io';
import type { GicV3Identity } from '../gicv3/frames';
import { GicV3Id } from '../gicv3/registers';
import { kernelGicOf, type KernelGic } from './kernel-gic';
import { GicLineInput } from './gic-line-input';
import { GIC_SPI_BASE } from '../intid';
import { readVgicV3Registers, restoreVgicV3, saveVgicV3, type DeviceAttrIo, type VgicV3State } from './v3-state';
import { iccPriorityBits } from './v3-state-table';
import { redistRegAttr } from './v3-attr';

const EBUSY = 16;

/** Who holds the machine's interrupt lines while the model holds the GIC (IrqLineSwitch.claimant). */
export const GIC_MUX_LINES = 'the GIC mux of @kvmts/dev-gic';

export type GicHolder = 'kernel' | 'model';

interface Held {
  readonly model: GicV3Model;
  readonly io: DeviceAttrIo;
  readonly irqfds: IrqfdDiversion;
  /** The machine's device lines were claimed (released on the way back). */
  readonly lines: MachineIrqLines | undefined;
}

export class GicMux {
  private held: Held | undefined;
  /** The machine's device lines (the switch hook hands them over); without them only the host's injection and irqfds are diverted. */
  private lines: MachineIrqLines | undefined;
  /** Moves one at a time: a toModel and a toKernel in flight at once run in call order. */
  private moves: Promise<unknown> = Promise.resolve();
  private readonly input: GicLineInput;

  constructor(
    readonly gic: KernelGic,
    /** Where the VM's irqfds are unbound and bound again (KVM_IRQFD on the VM). */
    private readonly irqfdRoute: IrqfdRoute = kernelIrqfdRoute(gic.vm),
  ) {
    this.input = new GicLineInput(gic);
  }

  /** The machine's device lines, to claim while the model holds the GIC (the switch hook gives them). */
  useMachineLines(lines: MachineIrqLines): void {
    this.lines = lines;
  }

  /** Which side is the GIC now. */
  get holder(): GicHolder {
    return this.held ? 'model' : 'kernel';
  }

  /**
   * The userspace model while it holds the GIC (LifecycleError while the kernel does), with the
   * irqfd triggers waiting so far handed into it first (a read of each eventfd; never throws:
   * an irqfd's failure is reported when the GIC goes back, by toKernel()).
   */
  get model(): GicV3Model {
    if (!this.held) throw new LifecycleError('GIC mux', 'the in-kernel GIC holds the state', 'give the userspace model (hand it over with toModel() or by switching a vCPU out)');
    this.held.irqfds.drain();
    return this.held.model;
  }

  /** Device-attribute access to whichever side holds the GIC: the vGIC's device fd or the model's face (irqfd triggers so far handed in first, as `model`). */
  get stateIo(): DeviceAttrIo {
    this.held?.irqfds.drain();
    return this.held?.io ?? this.gic.device;
  }

  /** Every register of the GIC as the holder reports it (the names KernelGic.registers() uses). */
  registers(): Record<string, bigint> {
    return readVgicV3Registers(this.stateIo, this.gic.layout);
  }

  /** Why this GIC cannot be handed to the model, or undefined. */
  refusal(): ConfigError | undefined {
    if (this.gic.version !== 3) return new ConfigError('gic', `the in-kernel vGICv${this.gic.version} cannot be muxed: only the vGICv3 has a userspace model to hand its state to`);
    if (this.gic.its) return new ConfigError('gic.its', 'the GIC has an ITS: its LPIs and translation tables are not modelled, so the in-kernel GIC cannot be handed to the userspace model — use a machine without one (plugin @kvmts/dev-gic)');
    const irqfds = this.gic.vm.irqfds();
    if (irqfds.length > 0 && committedGsiRouting(this.gic.vm) !== undefined) {
      return new ConfigError('irqfd', `the VM has its own GSI routing table (KVM_SET_GSI_ROUTING) and ${irqfds.length} irqfd(s): the userspace model takes an irqfd's trigger as SPI GSI + 32, which only the default routing promises`);
    }
    const stray = irqfds.find((b) => b.gsi + GIC_SPI_BASE >= this.gic.nrIrqs);
    if (stray) {
      return new ConfigError('irqfd', `the irqfd of eventfd ${stray.fd} raises GSI ${stray.gsi}, SPI ${stray.gsi + GIC_SPI_BASE}, which this GIC (${this.gic.nrIrqs} INTIDs) does not have: the userspace model could not take its triggers`);
    }
    return undefined;
  }

  /**
   * Hand the in-kernel GIC to a new userspace model (no vCPU may be in KVM_RUN): the machine's
   * device lines (when the mux has them) and the VM's irqfds first — so a line or trigger either
   * reaches the kernel before its state is read, or the model after — then the state. The model
   * reports the kernel's identification registers and priority bits, and answers for the
   * registers this kernel implements, so the way back carries exactly what came. Resolves with
   * the model (the same one while it holds the GIC).
   */
  toModel(): Promise<GicV3Model> {
    return this.serially(() => this.handToModel());
  }

  /**
   * Give the GIC back to the kernel (before any vCPU runs): the irqfds' last triggers into the
   * model, the model's state into the kernel (line levels included), then the irqfds and the
   * device lines back. Nothing to do when the kernel holds it. If the kernel refuses the state
   * (a vCPU runs), the model keeps the GIC, its lines and irqfds.
   */
  toKernel(): Promise<void> {
    return this.serially(() => this.handToKernel());
  }

  private serially<T>(move: () => Promise<T>): Promise<T> {
    const next = this.moves.then(move, move);
    this.moves = next.catch(() => undefined);
    return next;
  }

  private async handToModel(): Promise<GicV3Model> {
    if (this.held) return this.held.model;
    const refusal = this.refusal();
    if (refusal) throw refusal;
    const lines = this.lines;
    await lines?.claim(this.input, GIC_MUX_LINES); // they reach KVM through the GIC until it is diverted below
    let irqfds: IrqfdDiversion | undefined;
    try {
      // Triggers until the model holds the GIC are read by the first poll, which comes after this (synchronous) block.
      irqfds = IrqfdDiversion.start(this.gic.vm, this.irqfdRoute, (gsi) => this.pulse(gsi), undefined, 'the muxing GIC (its userspace model holds the GIC)');
      const state = this.kernel(() => saveVgicV3(this.gic.device, this.gic.layout), 'hand its state to the userspace model');
      const implemented = new Set([...Object.keys(state.distributor), ...state.cpus.flatMap((c) => Object.keys(c.redistributor))]);
      const priorityBits = iccPriorityBits(state.cpus[0].cpuInterface.ICC_CTLR_EL1 ?? 0x400n);
      const model = new GicV3Model({ mpidrs: this.gic.mpidrs, nrIrqs: this.gic.nrIrqs, priorityBits, identity: this.identityOf(state) });
      const io = gicV3AttrIo(model, implemented);
      restoreVgicV3(io, this.gic.layout, state);
      this.held = { model, io, irqfds, lines };
      this.gic.divertInputs({ setSpi: (intid, level) => model.setSpi(intid, level), setPpi: (vcpu, intid, level) => model.setPpi(vcpu, intid, level) });
      return model;
    } catch (e) {
      irqfds?.giveBack();
      await lines?.release(GIC_MUX_LINES);
      throw e;
    }
  }

  private async handToKernel(): Promise<void> {
    const held = this.held;
    if (!held) return;
    held.irqfds.drain();
    const state = saveVgicV3(held.io, this.gic.layout);
    this.kernel(() => restoreVgicV3(this.gic.device, this.gic.layout, state), 'take its state back from the userspace model');
    this.held = undefined;
    this.gic.divertInputs(undefined);
    try {
      held.irqfds.giveBack();
    } finally {
      await held.lines?.release(GIC_MUX_LINES);
    }
  }

  /** An irqfd trigger, as KVM's irqfd raises it: the line of SPI GSI + 32 up and down (an edge; a level SPI sees a pulse). */
  private pulse(gsi: number): void {
    this.gic.setSpi(gsi + GIC_SPI_BASE, true);
    this.gic.setSpi(gsi + GIC_SPI_BASE, false);
  }

  /** The kernel's identification registers, so the model's compare rows (GICD_TYPER, GICR_TYPER) match. */
  private identityOf(state: VgicV3State): GicV3Identity {
    const fallback = defaultGicV3Identity(this.gic.mpidrs, this.gic.nrIrqs);
    const word = (w: number[] | undefined, i = 0): number | undefined => w?.[i];
    const rdIidrAttr = redistRegAttr(this.gic.mpidrs[0], GicV3Id.GICR_IIDR);
    const dev = this.gic.device;
    return {
      gicdTyper: word(state.distributor.GICD_TYPER) ?? fallback.gicdTyper,
      gicdIidr: word(state.distributor.GICD_IIDR) ?? fallback.gicdIidr,
      gicrIidr: dev.hasAttr(Arm64VgicGroup.REDIST_REGS, rdIidrAttr) ? Number(dev.getAttr(Arm64VgicGroup.REDIST_REGS, rdIidrAttr) & 0xffff_ffffn) : fallback.gicrIidr,
      gicrTypers: state.cpus.map((c, i) => {
        const t = c.redistributor.GICR_TYPER;
        return t ? (BigInt(t[1] >>> 0) << 32n) | BigInt(t[0] >>> 0) : fallback.gicrTypers[i];
      }),
    };
  }

  /** KVM refuses GIC access while a vCPU runs (EBUSY): say so in the machine's terms. */
  private kernel<T>(body: () => T, operation: string): T {
    try {
      return body();
    } catch (e) {
      if (e instanceof KvmError && e.errno === EBUSY) throw new LifecycleError('in-kernel GIC', 'a vCPU is running', `${operation} (stop the machine or switch its vCPUs out first)`);
      throw e;
    }
  }
}

/** Muxes by GIC, one map per process (as kernel-gic.ts's GICs: a plugin module may be loaded twice). */
const MUXES_KEY = Symbol.for('kvmts.dev-gic.gicMuxes');
const muxes: WeakMap<KernelGic, GicMux> = ((globalThis as Record<symbol, unknown>)[MUXES_KEY] ??= new WeakMap<KernelGic, GicMux>()) as WeakMap<KernelGic, GicMux>;

/** The mux of `vm`'s in-kernel GIC (created on first use), or undefined when dev-gic made no GIC for it. */
export function gicMuxOf(vm: KvmVM): GicMux | undefined {
  const gic = kernelGicOf(vm);
  if (!gic) return undefined;
  let mux = muxes.get(gic);
  if (!mux) muxes.set(gic, (mux = new GicMux(gic)));
  return mux;
}

/** The mux of `vm` if it exists and the model holds the GIC. */
export function muxedModelIo(vm: KvmVM): DeviceAttrIo | undefined {
  const gic = kernelGicOf(vm);
  const mux = gic && muxes.get(gic);
  return mux?.holder === 'model' ? mux.stateIo : undefined;
}

/**
 * Core's switch hook (MACHINE_SWITCH_HOOK) for machines with dev-gic's vGICv3: the first vCPU
 * switched out hands the GIC to the model; run() or the last vCPU taking its thread back
 * returns it to the kernel.
 */
export const gicMuxSwitchHook: MachineSwitchHookFactory = (vm: KvmVM, machine: MachineSwitchContext): MachineSwitchHook | undefined => {
  const gic = kernelGicOf(vm);
  if (!gic || gic.version !== 3) return undefined;
  const mux = gicMuxOf(vm)!;
  mux.useMachineLines(machine.irqLines);
  return {
    name: 'in-kernel GIC (@kvmts/dev-gic mux)',
    // Asked before the machine stops: a GIC with an ITS keeps its vCPUs running, refused.
    refuseSwitchOut: () => mux.refusal(),
    switchingOut: async () => void (await mux.toModel()),
    resuming: () => mux.toKernel(),
  };
};
