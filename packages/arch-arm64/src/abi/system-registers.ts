/**
 * System registers kvmts moves between KVM and a thread context: an explicit allow-list (the
 * registers it syncs are these, intersected with what KVM_GET_REG_LIST reports) — never a
 * generic decode of the ids KVM lists. gem5 decoded ids generically and trusted its own
 * permission table: it mixed up the timer's swapped ids (gem5-kvm.md §9) and pushed registers
 * KVM refuses, such as OSLSR_EL1 (§11.8).
 *
 * Encodings are from the Arm ARM (DDI 0487); the ABI test checks each name against the cross
 * assembler's encoding of `mrs x0, <name>` and each id against ARM64_SYS_REG().
 */
import { Arm64TimerRegId, sysRegId, type SysRegEncoding } from './one-reg';

export interface Arm64SystemRegister<Name extends string = string> {
  /** Architectural name, also what the assembler accepts in MRS/MSR. */
  readonly name: Name;
  readonly id: bigint;
  /** op0..op2, for registers whose id is derived from their encoding (not the timer's). */
  readonly encoding?: SysRegEncoding;
}

function enc<Name extends string>(name: Name, op0: number, op1: number, crn: number, crm: number, op2: number): Arm64SystemRegister<Name> & { encoding: SysRegEncoding } {
  const encoding = { op0, op1, crn, crm, op2 };
  return { name, id: sysRegId(encoding), encoding };
}

/**
 * The EL1/EL0 context of a hardware thread: what a guest OS programs and expects back after a
 * switch or a checkpoint. Deliberately absent:
 *  - MPIDR_EL1: the identity of the vCPU slot (the vGIC routes by it), not state that moves;
 *  - the virtual counter (KVM_REG_ARM_TIMER_CNT): one per VM, see ../state/virtual-counter.ts;
 *  - the physical timer (CNTP_*): Linux 6.1 does not list it (only the virtual timer is, per vCPU);
 *  - OSLSR_EL1 and other read-only or side-effecting registers KVM refuses to take back;
 *  - SVE, pointer-authentication, MTE and PMU registers: kvmts does not enable those features.
 */
export const ARM64_SYSTEM_REGISTERS = [
  enc('SCTLR_EL1', 3, 0, 1, 0, 0),
  enc('ACTLR_EL1', 3, 0, 1, 0, 1),
  enc('CPACR_EL1', 3, 0, 1, 0, 2),
  enc('TTBR0_EL1', 3, 0, 2, 0, 0),
  enc('TTBR1_EL1', 3, 0, 2, 0, 1),
  enc('TCR_EL1', 3, 0, 2, 0, 2),
  enc('AFSR0_EL1', 3, 0, 5, 1, 0),
  enc('AFSR1_EL1', 3, 0, 5, 1, 1),
  enc('ESR_EL1', 3, 0, 5, 2, 0),
  enc('FAR_EL1', 3, 0, 6, 0, 0),
  enc('PAR_EL1', 3, 0, 7, 4, 0),
  enc('MAIR_EL1', 3, 0, 10, 2, 0),
  enc('AMAIR_EL1', 3, 0, 10, 3, 0),
  enc('VBAR_EL1', 3, 0, 12, 0, 0),
  enc('CONTEXTIDR_EL1', 3, 0, 13, 0, 1),
  enc('TPIDR_EL1', 3, 0, 13, 0, 4),
  enc('CNTKCTL_EL1', 3, 0, 14, 1, 0),
  enc('CSSELR_EL1', 3, 2, 0, 0, 0),
  enc('TPIDR_EL0', 3, 3, 13, 0, 2),
  enc('TPIDRRO_EL0', 3, 3, 13, 0, 3),
  enc('MDSCR_EL1', 2, 0, 0, 2, 2),
  // The virtual timer of this vCPU, by the uapi's named ids (one of them is swapped, see Arm64TimerRegId).
  { name: 'CNTV_CTL_EL0', id: Arm64TimerRegId.TIMER_CTL },
  { name: 'CNTV_CVAL_EL0', id: Arm64TimerRegId.TIMER_CVAL },
] as const;

export type Arm64SysRegName = (typeof ARM64_SYSTEM_REGISTERS)[number]['name'];

/** An ID register: read-only to the guest, compared (never written) when a context changes CPU model. */
export interface Arm64IdRegister<Name extends string = string> extends Arm64SystemRegister<Name> {
  readonly encoding: SysRegEncoding;
  /** Names of the sixteen 4-bit fields, bits 3:0 first; '' for a field the Arm ARM leaves unnamed (RES0, IMP DEF). */
  readonly fields: readonly string[];
}

function idReg<Name extends string>(name: Name, crm: number, op2: number, fields: string): Arm64IdRegister<Name> {
  // Sixteen names, '-' for an unnamed field (test/abi.test.ts checks the count).
  return { ...enc(name, 3, 0, 0, crm, op2), fields: fields.split(' ').map((f) => (f === '-' ? '' : f)) };
}

/**
 * The AArch64 ID registers (ID_AA64*): what a CPU model must match for a thread context to move
 * between it and KVM — memory-system fields such as PARange and ASIDBits above all
 * (gem5-kvm.md §9). Field names per the Arm ARM, bits 3:0 first.
 */
export const ARM64_ID_REGISTERS = [
  idReg('ID_AA64PFR0_EL1', 4, 0, 'EL0 EL1 EL2 EL3 FP AdvSIMD GIC RAS SVE SEL2 MPAM AMU DIT RME CSV2 CSV3'),
  idReg('ID_AA64PFR1_EL1', 4, 1, 'BT SSBS MTE RAS_frac MPAM_frac - SME RNDR_trap CSV2_frac NMI MTE_frac GCS THE MTEX DF2 PFAR'),
  idReg('ID_AA64ZFR0_EL1', 4, 4, 'SVEver AES - - BitPerm BF16 - - SHA3 - SM4 I8MM - F32MM F64MM -'),
  idReg('ID_AA64DFR0_EL1', 5, 0, 'DebugVer TraceVer PMUVer BRPs PMSS WRPs SEBEP CTX_CMPs PMSVer DoubleLock TraceFilt TraceBuffer MTPMU BRBE ExtTrcBuff HPMN0'),
  idReg('ID_AA64DFR1_EL1', 5, 1, '- - - - - - - - - - - - - - - -'),
  idReg('ID_AA64AFR0_EL1', 5, 4, '- - - - - - - - - - - - - - - -'),
  idReg('ID_AA64AFR1_EL1', 5, 5, '- - - - - - - - - - - - - - - -'),
  idReg('ID_AA64ISAR0_EL1', 6, 0, '- AES SHA1 SHA2 CRC32 Atomic TME RDM SHA3 SM3 SM4 DP FHM TS TLB RNDR'),
  idReg('ID_AA64ISAR1_EL1', 6, 1, 'DPB APA API JSCVT FCMA LRCPC GPA GPI FRINTTS SB SPECRES BF16 DGH I8MM XS LS64'),
  idReg('ID_AA64ISAR2_EL1', 6, 2, 'WFxT RPRES GPA3 APA3 MOPS BC PAC_frac CLRBHB SYSREG_128 SYSINSTR_128 PRFMSLC - RPRFM CSSC LUT ATS1A'),
  idReg('ID_AA64MMFR0_EL1', 7, 0, 'PARange ASIDBits BigEnd SNSMem BigEndEL0 TGran16 TGran64 TGran4 TGran16_2 TGran64_2 TGran4_2 ExS - - FGT ECV'),
  idReg('ID_AA64MMFR1_EL1', 7, 1, 'HAFDBS VMIDBits VH HPDS LO PAN SpecSEI XNX TWED ETS HCX AFP nTLBPA TIDCP1 CMOW ECBHB'),
  idReg('ID_AA64MMFR2_EL1', 7, 2, 'CnP UAO LSM IESB VARange CCIDX NV ST AT IDS FWB - TTL BBM EVT E0PD'),
] as const;

export type Arm64IdRegName = (typeof ARM64_ID_REGISTERS)[number]['name'];

/** MPIDR_EL1: read once per vCPU after KVM_ARM_VCPU_INIT for the FDT's cpu nodes (KVM assigns it). */
export const ARM64_MPIDR_EL1 = enc('MPIDR_EL1', 3, 0, 0, 0, 5);
