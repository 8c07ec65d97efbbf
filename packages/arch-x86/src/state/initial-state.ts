import type { X86GprName } from '../abi/registers';
import type { X86Sregs2 } from '../abi/sregs-codec';
import type { X86Msr } from '../abi/msrs-codec';
import type { CpuidEntry } from './cpuid';
import type { X86UserspaceIrqData } from '../interrupts/userspace-controller';
import type { X86SyncRegsGroup } from './sync-regs';

/**
 * What prepareBoot hands each vCPU thread (plain data), applied by X86KvmCPU.applyInitialState
 * in the order of X86_VCPU_SETUP (setup-sequence.ts).
 */
export interface X86InitialState {
  /** Guest CPUID table (KVM_SET_CPUID2), normalised for this vCPU. */
  readonly cpuid?: readonly CpuidEntry[];
  /** An in-kernel LAPIC (archOptions.irqchip 'kernel'): the lapic group exists; LINT0/LINT1 are programmed. */
  readonly inKernelLapic?: boolean;
  /** The MSRs the msrs group carries (serializableMsrs()), in restore order. */
  readonly msrList?: readonly number[];
  /** MSR values set at boot; only those in `msrList` are set. */
  readonly msrs?: readonly X86Msr[];
  /**
   * KVM_SET_MP_STATE value (KVM_MP_STATE_*). With an in-kernel irqchip, application processors
   * start UNINITIALIZED (waiting for INIT/SIPI); a flat boot that starts every vCPU at its entry
   * sets them RUNNABLE (0).
   */
  readonly mpState?: number;
  /** General registers merged over the reset values. */
  readonly regs?: Partial<Record<X86GprName, bigint>>;
  /** irqchip 'userspace': the controller's shared state (the same buffer for every vCPU). */
  readonly userspaceIrq?: X86UserspaceIrqData;
  /** x87 control word and MXCSR. */
  readonly fpu?: { readonly fcw: number; readonly mxcsr: number };
  /** The groups carried in kvm_run (archOptions.syncRegs); absent: X86_DEFAULT_SYNC_REGS. */
  readonly syncRegs?: readonly X86SyncRegsGroup[];
  /** Full pulls and pushes as one batch each (archOptions.batchStateSync); absent: one ioctl at a time. */
  readonly batchStateSync?: boolean;
  /** Special registers merged over the reset values (segments and tables field by field). */
  readonly sregs?: Partial<Record<keyof X86Sregs2, unknown>>;
}
