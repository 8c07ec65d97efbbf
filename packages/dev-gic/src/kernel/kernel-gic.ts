/**
 * The in-kernel vGIC of an arm64 machine, created through KVM_CREATE_DEVICE (arm-vgic-v3.rst, arm-vgic.rst, arm-vgic-its.rst):
 *
 *   v3   distributor + one redistributor per vCPU; NR_IRQS; CTRL_INIT after every vCPU exists
 *        (it sizes the redistributors; KVM_CREATE_VCPU fails afterwards); optionally an ITS
 *        (its frame, its own CTRL_INIT), described as an msi-controller child of the GIC node.
 *   v2   distributor + CPU interface, up to 8 vCPUs — only on hosts whose GIC offers GICv2
 *        compatibility (a GICv3 without it, like the nested arm64 tier's, refuses: ConfigError).
 *
 * Interrupts go in through KVM_IRQ_LINE (SPIs, and PPIs of one vCPU) or an irqfd (an SPI: GSI =
 * INTID − 32, KVM's default routing with a vGIC). The GIC of a VM is found again with
 * kernelGicOf(vm) — by the checkpoint component, by tests, by devices that inject.
 */
import { ConfigError, Irqfd, LifecycleError, type KvmDevice, type KvmVM } from '@kvmts/core';
import {
  ARM64_FDT_IRQ,
  ARM64_GIC_MAINTENANCE_PPI,
  ARM64_GIC_PHANDLE,
  Arm64KvmDeviceType,
  Arm64VgicAddrType,
  Arm64VgicCtrl,
  Arm64VgicGroup,
  encodeIrqLine,
  fdtProp,
  gicV3FdtNode,
  type FdtNode,
} from '@kvmts/arch-arm64';
import { GIC_SPI_BASE, intidKind } from '../intid';
import { checkNrIrqs } from './v3-state-table';
import { GICV2_MAX_CPUS, KERNEL_GIC_LAYOUT as L } from './kernel-gic-layout';
import { readItsRegisters, readVgicV3Registers, type VgicV3Layout } from './v3-state';

export interface KernelGicOptions {
  /** GIC architecture version (default 3). */
  readonly version?: 2 | 3;
  /** A GICv3 ITS (MSIs, LPIs); v3 only. Default false. */
  readonly its?: boolean;
}

/** The phandle of the ITS node (the GIC is ARM64_GIC_PHANDLE, the PL011 clock 2). */
export const ITS_PHANDLE = 3;

const hex = (n: number): string => n.toString(16);

/** Where a GIC's input lines go instead of KVM_IRQ_LINE while another model holds its state (./gic-mux.ts). */
export interface GicInputSink {
  setSpi(intid: number, level: boolean): void;
  setPpi(vcpu: number, intid: number, level: boolean): void;
}

/** A created, initialised in-kernel vGIC. */
export class KernelGic {
  constructor(
    readonly vm: KvmVM,
    readonly version: 2 | 3,
    readonly device: KvmDevice,
    /** The ITS device, when the machine has one. */
    readonly its: KvmDevice | undefined,
    readonly nrIrqs: number,
    /** MPIDR_EL1 of each vCPU, by vCPU id: the redistributor and CPU interface each register access names. */
    readonly mpidrs: readonly bigint[],
    readonly fdtNode: FdtNode,
  ) {}

  /** While set, setSpi/setPpi drive this sink (the userspace model holding the GIC) instead of KVM. */
  private inputs: GicInputSink | undefined;

  /** Send the input lines to `sink` (undefined: back to KVM_IRQ_LINE). */
  divertInputs(sink: GicInputSink | undefined): void {
    this.inputs = sink;
  }

  get layout(): VgicV3Layout {
    return { nrIrqs: this.nrIrqs, mpidrs: this.mpidrs };
  }

  /** Drive the input line of SPI `intid` (KVM_IRQ_LINE): an edge SPI pends on a rising edge, a level SPI follows the line. */
  setSpi(intid: number, level: boolean): void {
    this.checkSpi(intid);
    if (this.inputs) this.inputs.setSpi(intid, level);
    else this.vm.setIrqLine(encodeIrqLine({ type: 'spi', intid }), level);
  }

  /** Drive PPI `intid` (16–31) of vCPU `vcpu`. */
  setPpi(vcpu: number, intid: number, level: boolean): void {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.mpidrs.length) throw new ConfigError('vcpu', `the machine has vCPUs 0–${this.mpidrs.length - 1}, not ${vcpu}`);
    if (this.inputs) this.inputs.setPpi(vcpu, intid, level);
    else this.vm.setIrqLine(encodeIrqLine({ type: 'ppi', vcpu, intid }), level);
  }

  /** An irqfd that raises SPI `intid` (an edge each trigger()) without an exit; GSI = INTID − 32. */
  irqfd(intid: number): Irqfd {
    this.checkSpi(intid);
    // The model holds the GIC with the irqfds it took from the kernel; one bound now would raise its SPI in the kernel's stale state.
    if (this.inputs) throw new LifecycleError('in-kernel GIC', 'its userspace model holds the state (a vCPU is switched out)', 'bind an irqfd (bind it before switching out, or after switching back)');
    return Irqfd.assign(this.vm, intid - GIC_SPI_BASE);
  }

  /** Every v3 register KVM reports now, one entry per 32-bit word or ICC register (for comparing two vGICs). */
  registers(): Record<string, bigint> {
    if (this.version !== 3) throw new ConfigError('gic.version', 'register read-back is implemented for the vGICv3');
    return readVgicV3Registers(this.device, this.layout);
  }

  /** The ITS's registers (GITS_*, u64) as KVM reports them now; {} without an ITS. */
  itsRegisters(): Record<string, bigint> {
    return this.its ? readItsRegisters(this.its) : {};
  }

  private checkSpi(intid: number): void {
    if (intidKind(intid) !== 'spi' || intid >= this.nrIrqs) throw new ConfigError('intid', `this GIC's SPIs are INTIDs ${GIC_SPI_BASE}–${this.nrIrqs - 1}, not ${intid}`);
  }
}

/**
 * GICs by VM. One map per process, not per copy of this module: a plugin module loaded by path
 * ('@kvmts/dev-gic/v3-its') and the package's main entry may be two module instances (a test
 * runner maps one to sources), and both must see the GIC the other created.
 */
const GICS_KEY = Symbol.for('kvmts.dev-gic.kernelGics');
const gics: WeakMap<KvmVM, KernelGic> = ((globalThis as Record<symbol, unknown>)[GICS_KEY] ??= new WeakMap<KvmVM, KernelGic>()) as WeakMap<KvmVM, KernelGic>;

/** The in-kernel GIC dev-gic created for `vm`, if any. */
export function kernelGicOf(vm: KvmVM): KernelGic | undefined {
  return gics.get(vm);
}

/** The ITS node (arm,gic-v3-its binding): an msi-controller child of the GICv3 node. */
export function itsFdtNode(): FdtNode {
  return {
    name: `its@${hex(L.its)}`,
    properties: [
      fdtProp.string('compatible', 'arm,gic-v3-its'),
      fdtProp.empty('msi-controller'),
      fdtProp.u32('#msi-cells', 1),
      fdtProp.u64('reg', L.its, L.itsBytes),
      fdtProp.u32('phandle', ITS_PHANDLE),
    ],
  };
}

/** The vGICv2 node (arm,cortex-a15-gic binding): distributor and CPU interface frames. */
export function gicV2FdtNode(): FdtNode {
  return {
    name: `intc@${hex(L.v2Distributor)}`,
    properties: [
      fdtProp.string('compatible', 'arm,cortex-a15-gic'),
      fdtProp.u32('#interrupt-cells', 3),
      fdtProp.empty('interrupt-controller'),
      fdtProp.u64('reg', L.v2Distributor, L.v2DistributorBytes, L.v2CpuInterface, L.v2CpuInterfaceBytes),
      fdtProp.u32('interrupts', ARM64_FDT_IRQ.PPI, ARM64_GIC_MAINTENANCE_PPI, ARM64_FDT_IRQ.LEVEL_HIGH),
      fdtProp.u32('phandle', ARM64_GIC_PHANDLE),
    ],
  };
}

function refuseUnless(vm: KvmVM, type: number, what: string, why: string): void {
  if (!vm.canCreateDevice(type)) throw new ConfigError('gic', `this KVM cannot create ${what}: ${why}`);
}

function createV3(vm: KvmVM, mpidrs: readonly bigint[], nrIrqs: number, withIts: boolean): KernelGic {
  const redistributorBytes = mpidrs.length * L.v3RedistributorBytesPerCpu;
  if (L.v3Redistributors + redistributorBytes > L.v3RedistributorsEnd) {
    throw new ConfigError('cpus', `the vGICv3 layout has redistributor frames for ${(L.v3RedistributorsEnd - L.v3Redistributors) / L.v3RedistributorBytesPerCpu} vCPUs, not ${mpidrs.length}`);
  }
  refuseUnless(vm, Arm64KvmDeviceType.ARM_VGIC_V3, 'a vGICv3', "the host's interrupt controller is not a GICv3");
  const gic = vm.createDevice(Arm64KvmDeviceType.ARM_VGIC_V3);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V3_ADDR_TYPE_DIST, L.v3Distributor);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V3_ADDR_TYPE_REDIST, L.v3Redistributors);
  gic.setAttr(Arm64VgicGroup.NR_IRQS, 0, nrIrqs);
  gic.setAttr(Arm64VgicGroup.CTRL, Arm64VgicCtrl.VGIC_CTRL_INIT);
  let its: KvmDevice | undefined;
  if (withIts) {
    refuseUnless(vm, Arm64KvmDeviceType.ARM_VGIC_ITS, 'a vGICv3 ITS', 'the host KVM has no ITS emulation');
    its = vm.createDevice(Arm64KvmDeviceType.ARM_VGIC_ITS);
    its.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.ITS_ADDR_TYPE, L.its);
    its.setAttr(Arm64VgicGroup.CTRL, Arm64VgicCtrl.VGIC_CTRL_INIT);
  }
  const frames = { distributor: L.v3Distributor, distributorBytes: L.v3DistributorBytes, redistributors: L.v3Redistributors, redistributorBytes };
  return new KernelGic(vm, 3, gic, its, nrIrqs, mpidrs, gicV3FdtNode(frames, its ? [itsFdtNode()] : []));
}

function createV2(vm: KvmVM, mpidrs: readonly bigint[], nrIrqs: number): KernelGic {
  if (mpidrs.length > GICV2_MAX_CPUS) throw new ConfigError('cpus', `a GICv2 serves at most ${GICV2_MAX_CPUS} vCPUs, not ${mpidrs.length}`);
  refuseUnless(vm, Arm64KvmDeviceType.ARM_VGIC_V2, 'a vGICv2', 'the host GIC offers no GICv2 compatibility (a GICv3 without it, as in the nested arm64 tier); use version 3');
  const gic = vm.createDevice(Arm64KvmDeviceType.ARM_VGIC_V2);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V2_ADDR_TYPE_DIST, L.v2Distributor);
  gic.setAttr(Arm64VgicGroup.ADDR, Arm64VgicAddrType.V2_ADDR_TYPE_CPU, L.v2CpuInterface);
  gic.setAttr(Arm64VgicGroup.NR_IRQS, 0, nrIrqs);
  gic.setAttr(Arm64VgicGroup.CTRL, Arm64VgicCtrl.VGIC_CTRL_INIT);
  return new KernelGic(vm, 2, gic, undefined, nrIrqs, mpidrs, gicV2FdtNode());
}

/** Checked options: version 2 or 3, an ITS only with 3. */
export function kernelGicOptions(options: KernelGicOptions = {}): Required<KernelGicOptions> {
  const version = options.version ?? 3;
  if (version !== 2 && version !== 3) throw new ConfigError('gic.version', `must be 2 or 3, got ${String(version)}`);
  const its = options.its ?? false;
  if (typeof its !== 'boolean') throw new ConfigError('gic.its', `must be a boolean, got ${typeof its}`);
  if (its && version !== 3) throw new ConfigError('gic.its', 'an ITS belongs to a GICv3: use version 3');
  return { version, its };
}

/** Create and initialise the in-kernel GIC of `vm` (every vCPU exists and is initialised) and remember it for kernelGicOf. */
export function createKernelGic(vm: KvmVM, mpidrs: readonly bigint[], nrIrqs: number, options: KernelGicOptions = {}): KernelGic {
  const o = kernelGicOptions(options);
  if (gics.has(vm)) throw new ConfigError('gic', 'the VM already has an in-kernel GIC (KVM allows one)');
  if (mpidrs.length === 0) throw new ConfigError('cpus', 'a GIC needs the VM’s vCPUs to exist first');
  checkNrIrqs(nrIrqs);
  const gic = o.version === 3 ? createV3(vm, mpidrs, nrIrqs, o.its) : createV2(vm, mpidrs, nrIrqs);
  gics.set(vm, gic);
  return gic;
}
