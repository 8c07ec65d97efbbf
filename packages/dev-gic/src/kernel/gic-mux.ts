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
 * While the model holds the GIC, KernelGic.setSpi/setPpi drive the model's input lines, and the
 * machine's checkpoint section gic.vgic-v3 is saved from (and restored into) the model.
 *
 * Not muxed: a GIC with an ITS (LPIs and the ITS's tables are not modelled: refused, naming
 * it), and a vGICv2 (this host offers none to prove it on).
 */
import { ConfigError, KvmError, LifecycleError, type KvmVM, type MachineSwitchHook, type MachineSwitchHookFactory } from '@kvmts/core';
import { Arm64VgicGroup } from '@kvmts/arch-arm64';
import { GicV3Model, defaultGicV3Identity } from '../gicv3/model';
import { gicV3AttrIo } from '../gicv3/attr-io';
import type { GicV3Identity } from '../gicv3/frames';
import { GicV3Id } from '../gicv3/registers';
import { kernelGicOf, type KernelGic } from './kernel-gic';
import { readVgicV3Registers, restoreVgicV3, saveVgicV3, type DeviceAttrIo, type VgicV3State } from './v3-state';
import { iccPriorityBits } from './v3-state-table';
import { redistRegAttr } from './v3-attr';

const EBUSY = 16;

export type GicHolder = 'kernel' | 'model';

export class GicMux {
  private held: { model: GicV3Model; io: DeviceAttrIo } | undefined;

  constructor(readonly gic: KernelGic) {}

  /** Which side is the GIC now. */
  get holder(): GicHolder {
    return this.held ? 'model' : 'kernel';
  }

  /** The userspace model while it holds the GIC (LifecycleError while the kernel does). */
  get model(): GicV3Model {
    if (!this.held) throw new LifecycleError('GIC mux', 'the in-kernel GIC holds the state', 'give the userspace model (hand it over with toModel() or by switching a vCPU out)');
    return this.held.model;
  }

  /** Device-attribute access to whichever side holds the GIC: the vGIC's device fd or the model's face. */
  get stateIo(): DeviceAttrIo {
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
    return undefined;
  }

  /**
   * Hand the in-kernel GIC's state to a new userspace model (no vCPU may be in KVM_RUN). The
   * model reports the kernel's identification registers and priority bits, and answers for the
   * registers this kernel implements, so the way back carries exactly what came.
   */
  toModel(): GicV3Model {
    if (this.held) return this.held.model;
    const refusal = this.refusal();
    if (refusal) throw refusal;
    const state = this.kernel(() => saveVgicV3(this.gic.device, this.gic.layout), 'hand its state to the userspace model');
    const implemented = new Set([...Object.keys(state.distributor), ...state.cpus.flatMap((c) => Object.keys(c.redistributor))]);
    const priorityBits = iccPriorityBits(state.cpus[0].cpuInterface.ICC_CTLR_EL1 ?? 0x400n);
    const model = new GicV3Model({ mpidrs: this.gic.mpidrs, nrIrqs: this.gic.nrIrqs, priorityBits, identity: this.identityOf(state) });
    const io = gicV3AttrIo(model, implemented);
    restoreVgicV3(io, this.gic.layout, state);
    this.held = { model, io };
    this.gic.divertInputs({ setSpi: (intid, level) => model.setSpi(intid, level), setPpi: (vcpu, intid, level) => model.setPpi(vcpu, intid, level) });
    return model;
  }

  /** Write the model's state back into the in-kernel GIC (before any vCPU runs); nothing to do when the kernel holds it. */
  toKernel(): void {
    const held = this.held;
    if (!held) return;
    const state = saveVgicV3(held.io, this.gic.layout);
    this.kernel(() => restoreVgicV3(this.gic.device, this.gic.layout, state), 'take its state back from the userspace model');
    this.held = undefined;
    this.gic.divertInputs(undefined);
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
export const gicMuxSwitchHook: MachineSwitchHookFactory = (vm: KvmVM): MachineSwitchHook | undefined => {
  const gic = kernelGicOf(vm);
  if (!gic || gic.version !== 3) return undefined;
  const mux = gicMuxOf(vm)!;
  return {
    name: 'in-kernel GIC (@kvmts/dev-gic mux)',
    // Asked before the machine stops: a GIC with an ITS keeps its vCPUs running, refused.
    refuseSwitchOut: () => mux.refusal(),
    switchingOut: () => void mux.toModel(),
    resuming: () => mux.toKernel(),
  };
};
