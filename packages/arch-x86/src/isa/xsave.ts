/**
 * The XSAVE image in standard (non-compacted) format, as KVM_GET_XSAVE/KVM_GET_XSAVE2 return it
 * (Intel SDM vol. 1 §13.4–13.5): the FXSAVE legacy region, the XSAVE header, then each state
 * component at the offset CPUID.(0xD, i).EBX gives (its size in EAX). kvmts keeps the image
 * verbatim — never rewriting XSTATE_BV — so every enabled component survives a transfer
 * (gem5 pushes XSTATE_BV = FP|SSE and so drops AVX, AVX-512 and PKRU).
 */
import type { CpuidEntry } from '../state/cpuid';

/** Offsets in the 512-byte FXSAVE legacy region. */
export const FXSAVE = {
  fcw: 0,
  fsw: 2,
  /** Abridged tag byte. */
  ftw: 4,
  fop: 6,
  fip: 8,
  fdp: 16,
  mxcsr: 24,
  mxcsrMask: 28,
  /** ST0–ST7 / MM0–MM7, 16 bytes each. */
  st: 32,
  /** XMM0–XMM15, 16 bytes each. */
  xmm: 160,
} as const;

export const XSAVE_LEGACY_BYTES = 512;
/** XSAVE header: XSTATE_BV (which components hold data), XCOMP_BV (0 in standard format). */
export const XSAVE_HEADER = { xstateBv: 512, xcompBv: 520 } as const;
export const XSAVE_HEADER_BYTES = 64;
/** Legacy region + header: the smallest image that holds x87 and SSE state. */
export const XSAVE_MIN_BYTES = XSAVE_LEGACY_BYTES + XSAVE_HEADER_BYTES;
/** KVM's kvm_xsave, and the least KVM_GET_XSAVE2 copies. */
export const KVM_XSAVE_BYTES = 4096;

/** Registers a component holds, for dumps: `count` registers of `bytes` bytes, named `${prefix}${i}${suffix}`. */
export interface XsaveRegisters {
  readonly prefix: string;
  readonly first: number;
  readonly count: number;
  readonly bytes: number;
  readonly suffix: string;
}

export interface XsaveComponent {
  /** Bit in XCR0 / XSTATE_BV. */
  readonly bit: number;
  readonly name: string;
  /** The CPUID feature (isa/cpuid-features.ts) without which the guest cannot enable it. */
  readonly feature?: string;
  readonly registers?: XsaveRegisters;
}

const regs = (prefix: string, count: number, bytes: number, suffix = '', first = 0): XsaveRegisters => ({ prefix, first, count, bytes, suffix });

/** The user state components (SDM vol. 1 table 13-1) kvmts knows by name; others are shown as bytes. */
export const X86_XSAVE_COMPONENTS: readonly XsaveComponent[] = [
  { bit: 0, name: 'x87' },
  { bit: 1, name: 'sse' },
  { bit: 2, name: 'avx', feature: 'avx', registers: regs('ymm', 16, 16, '.hi128') },
  { bit: 3, name: 'mpx-bndregs', feature: 'mpx', registers: regs('bnd', 4, 16) },
  { bit: 4, name: 'mpx-bndcsr', feature: 'mpx', registers: regs('bndcsr', 1, 16) },
  { bit: 5, name: 'avx512-opmask', feature: 'avx512f', registers: regs('k', 8, 8) },
  { bit: 6, name: 'avx512-zmm-hi256', feature: 'avx512f', registers: regs('zmm', 16, 32, '.hi256') },
  { bit: 7, name: 'avx512-hi16-zmm', feature: 'avx512f', registers: regs('zmm', 16, 64, '', 16) },
  { bit: 9, name: 'pkru', feature: 'pku', registers: regs('pkru', 1, 4) },
  { bit: 17, name: 'amx-tilecfg', feature: 'amx_tile', registers: regs('tilecfg', 1, 64) },
  { bit: 18, name: 'amx-tiledata', feature: 'amx_tile' },
];

export function xsaveComponent(bit: number): XsaveComponent | undefined {
  return X86_XSAVE_COMPONENTS.find((c) => c.bit === bit);
}

/** Names of the components set in an XCR0 / XSTATE_BV value, e.g. 'x87 sse avx'. */
export function xsaveComponentNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(xsaveComponent(bit)?.name ?? `component ${bit}`);
  }
  return names;
}

export interface XsaveArea {
  readonly offset: number;
  readonly size: number;
}

/**
 * Where component `bit` sits in a standard-format image: x87 and SSE in the legacy region,
 * the others where CPUID.(0xD, bit) puts them. Undefined when the table does not describe it.
 */
export function xsaveArea(cpuid: readonly CpuidEntry[], bit: number): XsaveArea | undefined {
  if (bit === 0) return { offset: 0, size: FXSAVE.xmm };
  if (bit === 1) return { offset: FXSAVE.xmm, size: 16 * 16 };
  const e = cpuid.find((x) => x.function === 0xd && x.index === bit);
  return e === undefined || e.eax === 0 ? undefined : { offset: e.ebx, size: e.eax };
}

export function readXstateBv(image: Uint8Array): bigint {
  return new DataView(image.buffer, image.byteOffset, image.byteLength).getBigUint64(XSAVE_HEADER.xstateBv, true);
}
