/**
 * Model-specific registers: which ones kvmts carries in an X86ThreadContext, and why the others
 * are left out. The tables are the documentation (docs/architecture.md links here), the input
 * of serializableMsrs() and the names the MSR dump prints.
 *
 * Sources: Firecracker's SERIALIZABLE_MSR_RANGES (x86-64.md §6), QEMU's kvm_put_msrs, Linux
 * arch/x86/kvm/x86.c (msrs_to_save, emulated_msrs) and mtrr.c.
 */

/** MSR numbers the code refers to by name. */
export const MSR = {
  TSC: 0x10,
  APIC_BASE: 0x1b,
  TSC_ADJUST: 0x3b,
  MTRR_CAP: 0xfe,
  MISC_ENABLE: 0x1a0,
  MTRR_PHYS_BASE0: 0x200,
  PAT: 0x277,
  MTRR_DEF_TYPE: 0x2ff,
  TSC_DEADLINE: 0x6e0,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  KERNEL_GS_BASE: 0xc0000102,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
} as const;

/** Which state group carries an MSR's value. */
export type MsrCarrier =
  /** The msrs group (KVM_GET/SET_MSRS), when KVM_GET_MSR_INDEX_LIST names it. */
  | 'listed'
  /** The msrs group, when the guest's CPUID has MTRR: KVM emulates MTRRs but does not list them. */
  | 'mtrr'
  /** The sregs group (KVM_GET/SET_SREGS2) already holds it: carrying it twice would let the copies disagree. */
  | 'sregs'
  /** The lapic group (KVM_GET/SET_LAPIC) holds the APIC registers the x2APIC MSRs name. */
  | 'lapic';

export interface MsrRow {
  readonly index: number;
  readonly name: string;
  readonly carrier: MsrCarrier;
  /** Consecutive MSRs the row stands for (index, index+1, …); 1 when absent. */
  readonly count?: number;
  /** Exists only with an in-kernel LAPIC: KVM refuses even a 0 written to it otherwise (measured). */
  readonly lapic?: boolean;
}

const listed = (index: number, name: string): MsrRow => ({ index, name, carrier: 'listed' });
const mtrr = (index: number, name: string): MsrRow => ({ index, name, carrier: 'mtrr' });

/**
 * The serializable list, in restore order: TSC first (TSC_DEADLINE is relative to it), the
 * deadline last (KVM only keeps it while the LAPIC timer is in TSC-deadline mode, and the
 * LAPIC is restored before the msrs group). The variable-range MTRRs are expanded per
 * MTRRcap.VCNT by serializableMsrs().
 */
export const X86_SERIALIZABLE_MSRS: readonly MsrRow[] = [
  listed(0x10, 'TSC'),
  { index: 0x1b, name: 'APIC_BASE', carrier: 'sregs' },
  listed(0x3a, 'FEAT_CTL'),
  listed(0x3b, 'TSC_ADJUST'),
  listed(0x34, 'SMI_COUNT'),
  listed(0x48, 'SPEC_CTRL'),
  listed(0x8b, 'UCODE_REV'),
  listed(0x9e, 'SMBASE'),
  listed(0xce, 'PLATFORM_INFO'),
  listed(0x10a, 'ARCH_CAPABILITIES'),
  listed(0x140, 'MISC_FEATURES_ENABLES'),
  listed(0x174, 'SYSENTER_CS'),
  listed(0x175, 'SYSENTER_ESP'),
  listed(0x176, 'SYSENTER_EIP'),
  listed(0x17a, 'MCG_STATUS'),
  listed(0x1a0, 'MISC_ENABLE'),
  listed(0x1d9, 'DEBUGCTL'),
  listed(0x1db, 'LASTBRANCHFROMIP'),
  listed(0x1dc, 'LASTBRANCHTOIP'),
  listed(0x1dd, 'LASTINTFROMIP'),
  listed(0x1de, 'LASTINTTOIP'),
  listed(0x1fc, 'POWER_CTL'),
  mtrr(0x200, 'MTRR_PHYSBASE/PHYSMASK'),
  mtrr(0x250, 'MTRR_FIX64K_00000'),
  mtrr(0x258, 'MTRR_FIX16K_80000'),
  mtrr(0x259, 'MTRR_FIX16K_A0000'),
  { ...mtrr(0x268, 'MTRR_FIX4K'), count: 8 },
  listed(0x277, 'PAT'),
  mtrr(0x2ff, 'MTRR_DEF_TYPE'),
  listed(0x345, 'PERF_CAPABILITIES'),
  { index: 0x800, name: 'X2APIC', carrier: 'lapic', count: 0x400 },
  { index: 0xc0000080, name: 'EFER', carrier: 'sregs' },
  listed(0xc0000081, 'STAR'),
  listed(0xc0000082, 'LSTAR'),
  listed(0xc0000083, 'CSTAR'),
  listed(0xc0000084, 'SFMASK'),
  { index: 0xc0000100, name: 'FS_BASE', carrier: 'sregs' },
  { index: 0xc0000101, name: 'GS_BASE', carrier: 'sregs' },
  listed(0xc0000102, 'KERNEL_GS_BASE'),
  listed(0xc0000103, 'TSC_AUX'),
  listed(0xc0010015, 'HWCR'),
  listed(0xc0010117, 'VM_HSAVE_PA'),
  listed(0xc001011f, 'VIRT_SPEC_CTRL'),
  listed(0x11, 'KVM_WALL_CLOCK'),
  listed(0x12, 'KVM_SYSTEM_TIME'),
  listed(0x4b564d00, 'KVM_WALL_CLOCK_NEW'),
  listed(0x4b564d01, 'KVM_SYSTEM_TIME_NEW'),
  listed(0x4b564d02, 'KVM_ASYNC_PF_EN'),
  listed(0x4b564d03, 'KVM_STEAL_TIME'),
  listed(0x4b564d04, 'KVM_PV_EOI_EN'),
  listed(0x4b564d05, 'KVM_POLL_CONTROL'),
  { ...listed(0x4b564d06, 'KVM_ASYNC_PF_INT'), lapic: true },
  { ...listed(0x6e0, 'TSC_DEADLINE'), lapic: true },
];

/** MSRs KVM may list that kvmts does not carry, and why. */
export const X86_MSRS_NOT_CARRIED: readonly (MsrRow & { readonly why: string })[] = [
  { index: 0x49, name: 'PRED_CMD', carrier: 'listed', why: 'write-only command, no state' },
  { index: 0xfe, name: 'MTRR_CAP', carrier: 'listed', why: 'read-only capability; it sizes the variable MTRRs' },
  { index: 0x17b, name: 'MCG_CTL', carrier: 'listed', why: 'exists only with MCG_CAP.CTL_P, which needs KVM_X86_SETUP_MCE (not done)' },
  { index: 0x400, name: 'MC_BANKS', carrier: 'listed', count: 0x80, why: 'machine-check banks need KVM_X86_SETUP_MCE (not done)' },
  { index: 0x4b564d07, name: 'KVM_ASYNC_PF_ACK', carrier: 'listed', why: 'a write acknowledges an event; reading it back is meaningless' },
  { index: 0x40000000, name: 'HYPERV', carrier: 'listed', count: 0x100, why: 'kvmts exposes no Hyper-V enlightenments' },
  { index: 0xc0000104, name: 'TSC_RATIO', carrier: 'listed', why: 'nested-guest TSC scaling: nested state is not carried' },
  { index: 0xc0010000, name: 'AMD_PERF_LEGACY', carrier: 'listed', count: 8, why: 'vPMU state is not carried (hosts run with enable_pmu=N)' },
  { index: 0xc0010200, name: 'AMD_PERF_CORE', carrier: 'listed', count: 12, why: 'vPMU state is not carried' },
  { index: 0x309, name: 'PERF_FIXED_CTR', carrier: 'listed', count: 3, why: 'vPMU state is not carried' },
  { index: 0x38d, name: 'PERF_GLOBAL', carrier: 'listed', count: 4, why: 'vPMU state is not carried' },
  { index: 0x3f1, name: 'PEBS_ENABLE', carrier: 'listed', why: 'vPMU state is not carried' },
  { index: 0x3f2, name: 'PEBS_DATA_CFG', carrier: 'listed', why: 'vPMU state is not carried' },
  { index: 0x600, name: 'DS_AREA', carrier: 'listed', why: 'vPMU state is not carried' },
  { index: 0xc0011029, name: 'DE_CFG', carrier: 'listed', why: 'feature MSR (KVM_GET_MSR_FEATURE_INDEX_LIST), not guest state' },
];

/** Fields of MTRRcap (IA32_MTRRCAP): VCNT, the number of variable ranges, is bits 7:0. */
const MTRR_CAP_VCNT_MASK = 0xffn;

export interface SerializableMsrOptions {
  /** The guest's CPUID has MTRR (leaf 1 EDX bit 12). */
  readonly mtrr: boolean;
  /** MTRRcap as KVM reports it (VCNT = bits 7:0). */
  readonly mtrrCap: bigint;
  /** The vCPU has an in-kernel LAPIC. */
  readonly lapic: boolean;
}

/**
 * The MSRs a vCPU's msrs group carries, in restore order: the 'listed' rows KVM names in
 * `kvmIndexList` (those marked `lapic` only with an in-kernel LAPIC) and, when the guest has
 * MTRRs, the MTRR rows (variable ranges per VCNT).
 */
export function serializableMsrs(kvmIndexList: readonly number[], options: SerializableMsrOptions): number[] {
  const listedByKvm = new Set(kvmIndexList);
  const vcnt = Number(options.mtrrCap & MTRR_CAP_VCNT_MASK);
  const out: number[] = [];
  for (const row of X86_SERIALIZABLE_MSRS) {
    if (row.carrier === 'mtrr') {
      if (!options.mtrr) continue;
      const count = row.index === MSR.MTRR_PHYS_BASE0 ? 2 * vcnt : (row.count ?? 1);
      for (let i = 0; i < count; i++) out.push(row.index + i);
    } else if (row.carrier === 'listed' && listedByKvm.has(row.index) && (options.lapic || !row.lapic)) {
      out.push(row.index);
    }
  }
  return out;
}

const MTRR_FIX4K_NAMES = ['C0000', 'C8000', 'D0000', 'D8000', 'E0000', 'E8000', 'F0000', 'F8000'];

/** The name an MSR dump prints for `index` (hex when kvmts does not know it). */
export function msrName(index: number): string {
  if (index >= MSR.MTRR_PHYS_BASE0 && index < MSR.MTRR_PHYS_BASE0 + 0x20) {
    const n = (index - MSR.MTRR_PHYS_BASE0) >> 1;
    return `MTRR_PHYS${index & 1 ? 'MASK' : 'BASE'}${n}`;
  }
  if (index >= 0x268 && index < 0x270) return `MTRR_FIX4K_${MTRR_FIX4K_NAMES[index - 0x268]}`;
  for (const row of [...X86_SERIALIZABLE_MSRS, ...X86_MSRS_NOT_CARRIED]) {
    const count = row.count ?? 1;
    if (index >= row.index && index < row.index + count) return count === 1 ? row.name : `${row.name}+0x${(index - row.index).toString(16)}`;
  }
  return `MSR_0x${index.toString(16)}`;
}
