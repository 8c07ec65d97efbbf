/**
 * CPUID feature bits by name (the names Linux prints in /proc/cpuinfo), and which features
 * depend on which (after Linux arch/x86/kernel/cpu/cpuid-deps.c): hiding a feature hides its
 * dependents, so a guest is never told it has AVX2 but not AVX.
 */

export type CpuidRegister = 'eax' | 'ebx' | 'ecx' | 'edx';
export const CPUID_REGISTERS: readonly CpuidRegister[] = ['eax', 'ebx', 'ecx', 'edx'];

/** One bit of one CPUID output register. */
export interface CpuidBit {
  readonly leaf: number;
  /** Sub-leaf (ECX input); 0 when absent. */
  readonly subleaf?: number;
  readonly register: CpuidRegister;
  readonly bit: number;
}

interface FeatureRow extends CpuidBit {
  readonly requires?: readonly string[];
}

const f = (leaf: number, subleaf: number, register: CpuidRegister, bit: number, requires?: string[]): FeatureRow => ({ leaf, subleaf, register, bit, requires });

export const X86_CPUID_FEATURES = {
  // leaf 1 EDX
  fpu: f(1, 0, 'edx', 0),
  tsc: f(1, 0, 'edx', 4),
  msr: f(1, 0, 'edx', 5),
  pae: f(1, 0, 'edx', 6),
  apic: f(1, 0, 'edx', 9),
  mtrr: f(1, 0, 'edx', 12),
  pat: f(1, 0, 'edx', 16),
  clflush: f(1, 0, 'edx', 19),
  mmx: f(1, 0, 'edx', 23),
  fxsr: f(1, 0, 'edx', 24),
  sse: f(1, 0, 'edx', 25, ['fxsr']),
  sse2: f(1, 0, 'edx', 26, ['sse']),
  ht: f(1, 0, 'edx', 28),
  // leaf 1 ECX
  pni: f(1, 0, 'ecx', 0, ['sse2']),
  pclmulqdq: f(1, 0, 'ecx', 1, ['sse2']),
  monitor: f(1, 0, 'ecx', 3),
  ssse3: f(1, 0, 'ecx', 9, ['pni']),
  fma: f(1, 0, 'ecx', 12, ['avx']),
  cx16: f(1, 0, 'ecx', 13),
  pdcm: f(1, 0, 'ecx', 15),
  sse4_1: f(1, 0, 'ecx', 19, ['ssse3']),
  sse4_2: f(1, 0, 'ecx', 20, ['sse4_1']),
  x2apic: f(1, 0, 'ecx', 21, ['apic']),
  movbe: f(1, 0, 'ecx', 22),
  popcnt: f(1, 0, 'ecx', 23),
  tsc_deadline_timer: f(1, 0, 'ecx', 24, ['apic']),
  aes: f(1, 0, 'ecx', 25, ['sse2']),
  xsave: f(1, 0, 'ecx', 26, ['fxsr']),
  avx: f(1, 0, 'ecx', 28, ['xsave']),
  f16c: f(1, 0, 'ecx', 29, ['avx']),
  rdrand: f(1, 0, 'ecx', 30),
  hypervisor: f(1, 0, 'ecx', 31),
  // leaf 7.0 EBX
  fsgsbase: f(7, 0, 'ebx', 0),
  bmi1: f(7, 0, 'ebx', 3),
  avx2: f(7, 0, 'ebx', 5, ['avx']),
  smep: f(7, 0, 'ebx', 7),
  bmi2: f(7, 0, 'ebx', 8),
  erms: f(7, 0, 'ebx', 9),
  invpcid: f(7, 0, 'ebx', 10),
  mpx: f(7, 0, 'ebx', 14, ['xsave']),
  avx512f: f(7, 0, 'ebx', 16, ['avx']),
  avx512dq: f(7, 0, 'ebx', 17, ['avx512f']),
  rdseed: f(7, 0, 'ebx', 18),
  adx: f(7, 0, 'ebx', 19),
  smap: f(7, 0, 'ebx', 20),
  avx512ifma: f(7, 0, 'ebx', 21, ['avx512f']),
  clflushopt: f(7, 0, 'ebx', 23),
  clwb: f(7, 0, 'ebx', 24),
  avx512cd: f(7, 0, 'ebx', 28, ['avx512f']),
  sha_ni: f(7, 0, 'ebx', 29),
  avx512bw: f(7, 0, 'ebx', 30, ['avx512f']),
  avx512vl: f(7, 0, 'ebx', 31, ['avx512f']),
  // leaf 7.0 ECX
  avx512vbmi: f(7, 0, 'ecx', 1, ['avx512f']),
  umip: f(7, 0, 'ecx', 2),
  pku: f(7, 0, 'ecx', 3, ['xsave']),
  ospke: f(7, 0, 'ecx', 4, ['pku']),
  avx512_vbmi2: f(7, 0, 'ecx', 6, ['avx512f']),
  gfni: f(7, 0, 'ecx', 8),
  vaes: f(7, 0, 'ecx', 9, ['avx', 'aes']),
  vpclmulqdq: f(7, 0, 'ecx', 10, ['avx', 'pclmulqdq']),
  avx512_vnni: f(7, 0, 'ecx', 11, ['avx512f']),
  avx512_bitalg: f(7, 0, 'ecx', 12, ['avx512f']),
  avx512_vpopcntdq: f(7, 0, 'ecx', 14, ['avx512f']),
  la57: f(7, 0, 'ecx', 16),
  rdpid: f(7, 0, 'ecx', 22),
  // leaf 7.0 EDX
  avx512_fp16: f(7, 0, 'edx', 23, ['avx512bw']),
  amx_tile: f(7, 0, 'edx', 24, ['xsave']),
  amx_bf16: f(7, 0, 'edx', 22, ['amx_tile']),
  amx_int8: f(7, 0, 'edx', 25, ['amx_tile']),
  // leaf 0xD.1 EAX
  xsaveopt: f(0xd, 1, 'eax', 0, ['xsave']),
  xsavec: f(0xd, 1, 'eax', 1, ['xsave']),
  xgetbv1: f(0xd, 1, 'eax', 2, ['xsave']),
  xsaves: f(0xd, 1, 'eax', 3, ['xsave']),
  // leaf 0x80000001
  lahf_lm: f(0x80000001, 0, 'ecx', 0),
  svm: f(0x80000001, 0, 'ecx', 2),
  abm: f(0x80000001, 0, 'ecx', 5),
  sse4a: f(0x80000001, 0, 'ecx', 6),
  syscall: f(0x80000001, 0, 'edx', 11),
  nx: f(0x80000001, 0, 'edx', 20),
  pdpe1gb: f(0x80000001, 0, 'edx', 26),
  rdtscp: f(0x80000001, 0, 'edx', 27),
  lm: f(0x80000001, 0, 'edx', 29),
} as const satisfies Record<string, FeatureRow>;

export type X86CpuidFeatureName = keyof typeof X86_CPUID_FEATURES;

export function isCpuidFeatureName(name: string): name is X86CpuidFeatureName {
  return Object.prototype.hasOwnProperty.call(X86_CPUID_FEATURES, name);
}

/** `name` and every feature that (transitively) requires it. */
export function featureWithDependents(name: X86CpuidFeatureName): X86CpuidFeatureName[] {
  const out = new Set<X86CpuidFeatureName>([name]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [n, row] of Object.entries(X86_CPUID_FEATURES) as [X86CpuidFeatureName, FeatureRow][]) {
      if (!out.has(n) && row.requires?.some((r) => out.has(r as X86CpuidFeatureName))) {
        out.add(n);
        grew = true;
      }
    }
  }
  return [...out];
}

/** The name of the feature at this bit, if the table has one. */
export function cpuidFeatureAt(bit: CpuidBit): X86CpuidFeatureName | undefined {
  for (const [n, row] of Object.entries(X86_CPUID_FEATURES) as [X86CpuidFeatureName, FeatureRow][]) {
    if (row.leaf === bit.leaf && (row.subleaf ?? 0) === (bit.subleaf ?? 0) && row.register === bit.register && row.bit === bit.bit) return n;
  }
  return undefined;
}

/** 'leaf 0x7 sub-leaf 0 EBX bit 16 (avx512f)'. */
export function describeCpuidBit(bit: CpuidBit): string {
  const name = cpuidFeatureAt(bit);
  return `leaf 0x${bit.leaf.toString(16)} sub-leaf ${bit.subleaf ?? 0} ${bit.register.toUpperCase()} bit ${bit.bit}${name ? ` (${name})` : ''}`;
}
