/**
 * Per-vCPU CPUID normalisation (x86-64.md §5): the rules that turn one guest table into the
 * table of vCPU n. Pure functions over plain entries, applied in the order of
 * CPUID_NORMALISATION; buildCpuidTables() composes them with the user's request.
 */
import { ConfigError } from '@kvmts/core';
import { X86CpuidFlag } from '../abi/constants';
import { X86_CPUID_FEATURES, type CpuidBit } from '../isa/cpuid-features';
import { X86_XSAVE_COMPONENTS, XSAVE_MIN_BYTES } from '../isa/xsave';
import type { CpuidEntry } from './cpuid';
import { applyCpuidRequest, checkRequiredCpuid, findCpuid, hasCpuidBit, type X86CpuidRequest } from './cpuid-request';

export interface CpuidVcpuContext {
  /** vCPU id = initial APIC id (KVM gives the in-kernel LAPIC the vCPU id). */
  readonly apicId: number;
  readonly vcpuCount: number;
  readonly threadsPerCore: number;
  /** An in-kernel LAPIC (archOptions.irqchip 'kernel'): APIC, x2APIC and TSC-deadline exist. */
  readonly inKernelLapic: boolean;
}

const F = X86_CPUID_FEATURES;
const pow2ceil = (n: number): number => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));
const log2ceil = (n: number): number => Math.log2(pow2ceil(n));
const setBit = (v: number, bit: number, on: boolean): number => (on ? v | (1 << bit) : v & ~(1 << bit)) >>> 0;

function setFeature(entries: CpuidEntry[], bit: CpuidBit, on: boolean): void {
  const e = findCpuid(entries, bit.leaf, bit.subleaf);
  if (e !== undefined) e[bit.register] = setBit(e[bit.register], bit.bit, on);
}

function vendorOf(entries: readonly CpuidEntry[]): string {
  const e = findCpuid(entries, 0);
  if (e === undefined) return '';
  return [e.ebx, e.edx, e.ecx].map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24)).join('');
}

const isAmd = (entries: readonly CpuidEntry[]): boolean => ['AuthenticAMD', 'HygonGenuine'].includes(vendorOf(entries));

/** Replace every entry of `leaf` with `replacement` (kept in place of the first one). */
function replaceLeaf(entries: CpuidEntry[], leaf: number, replacement: CpuidEntry[]): void {
  const at = entries.findIndex((e) => e.function === leaf);
  if (at < 0) return;
  const rest = entries.filter((e) => e.function !== leaf);
  entries.splice(0, entries.length, ...rest.slice(0, at), ...replacement, ...rest.slice(at));
}

/** Leaf 1: APIC id, logical-processor count, CLFLUSH size, HTT, hypervisor, APIC features. */
function leaf1(entries: CpuidEntry[], ctx: CpuidVcpuContext): void {
  const e = findCpuid(entries, 1);
  if (e === undefined) return;
  const logical = pow2ceil(ctx.vcpuCount);
  // [31:24] initial APIC id, [23:16] addressable logical ids per package, [15:8] CLFLUSH line in 8-byte units, [7:0] brand index.
  e.ebx = (((ctx.apicId & 0xff) << 24) | (Math.min(logical, 0xff) << 16) | (8 << 8) | (e.ebx & 0xff)) >>> 0;
  e.edx = setBit(e.edx, F.ht.bit, logical > 1);
  // The guest runs on a hypervisor; tools and kernels look for this bit before leaf 0x40000000.
  e.ecx = setBit(e.ecx, F.hypervisor.bit, true);
  // No PERF_CAPABILITIES MSR for the guest without a vPMU contract (Firecracker clears it too).
  e.ecx = setBit(e.ecx, F.pdcm.bit, false);
  // APIC features exist only with an in-kernel LAPIC; KVM emulates the TSC-deadline timer in it
  // but leaves the bit out of KVM_GET_SUPPORTED_CPUID (KVM_CAP_TSC_DEADLINE_TIMER says so).
  e.edx = setBit(e.edx, F.apic.bit, ctx.inKernelLapic && (e.edx & (1 << F.apic.bit)) !== 0);
  e.ecx = setBit(e.ecx, F.x2apic.bit, ctx.inKernelLapic && (e.ecx & (1 << F.x2apic.bit)) !== 0);
  e.ecx = setBit(e.ecx, F.tsc_deadline_timer.bit, ctx.inKernelLapic);
}

/** Leaf 4 (deterministic cache parameters, Intel): cores per package and threads per cache. */
function leaf4(entries: CpuidEntry[], ctx: CpuidVcpuContext): void {
  const cores = ctx.vcpuCount / ctx.threadsPerCore;
  for (const e of entries) {
    if (e.function !== 4 || (e.eax & 0x1f) === 0) continue;
    const level = (e.eax >>> 5) & 0x7;
    const sharing = level <= 2 ? ctx.threadsPerCore : ctx.vcpuCount;
    e.eax = (((pow2ceil(cores) - 1) << 26) | ((pow2ceil(sharing) - 1) << 14) | (e.eax & 0x3fff)) >>> 0;
  }
}

/**
 * Leaves 0xB and 0x1F (extended topology): sub-leaf 0 the SMT level, 1 the core level, 2 the
 * terminator; EDX is the x2APIC id in each. Newer KVM reports only sub-leaf 0: add the rest.
 */
function topologyLeaves(entries: CpuidEntry[], ctx: CpuidVcpuContext): void {
  const smtBits = log2ceil(ctx.threadsPerCore);
  const levels: [eax: number, ebx: number, type: number][] = [
    [smtBits, ctx.threadsPerCore, 1],
    [log2ceil(ctx.vcpuCount), ctx.vcpuCount, 2],
    [0, 0, 0],
  ];
  for (const leaf of [0xb, 0x1f]) {
    const flags = X86CpuidFlag.SIGNIFCANT_INDEX;
    replaceLeaf(entries, leaf, levels.map(([eax, ebx, type], index) => ({ function: leaf, index, flags, eax, ebx, ecx: ((type << 8) | index) >>> 0, edx: ctx.apicId })));
  }
}

/**
 * Leaf 0xD: the XSAVE components XCR0 may enable are those whose feature the table keeps
 * (AVX for YMM, AVX-512F for the opmask and ZMM states, PKU for PKRU, …); without XSAVE there
 * are none. EAX/EDX and the size in ECX follow, and sub-leaves of components dropped go. EBX
 * of sub-leaves 0 and 1 is KVM's to keep current with XCR0 (X86_CPUID_DYNAMIC_BITS).
 */
function xsaveLeaf(entries: CpuidEntry[]): void {
  const d0 = findCpuid(entries, 0xd, 0);
  if (d0 === undefined) return;
  if (!hasCpuidBit(entries, F.xsave)) {
    replaceLeaf(entries, 0xd, entries.filter((e) => e.function === 0xd && e.index <= 1).map((e) => ({ ...e, eax: 0, ebx: 0, ecx: 0, edx: 0 })));
    return;
  }
  let keep = 0n;
  for (let bit = 0; bit < 64; bit++) {
    const c = X86_XSAVE_COMPONENTS.find((x) => x.bit === bit);
    const feature = c?.feature as keyof typeof F | undefined;
    if (feature === undefined || hasCpuidBit(entries, F[feature])) keep |= 1n << BigInt(bit);
  }
  const xcr0 = ((BigInt(d0.edx) << 32n) | BigInt(d0.eax)) & keep;
  d0.eax = Number(xcr0 & 0xffffffffn);
  d0.edx = Number(xcr0 >> 32n);
  const d1 = findCpuid(entries, 0xd, 1);
  const xss = d1 === undefined ? 0n : (BigInt(d1.edx) << 32n) | BigInt(d1.ecx);
  const dropped = (e: CpuidEntry): boolean => e.function === 0xd && e.index >= 2 && e.index < 64 && ((xcr0 | xss) >> BigInt(e.index)) % 2n === 0n;
  const kept = entries.filter((e) => !dropped(e));
  entries.splice(0, entries.length, ...kept);
  let size = XSAVE_MIN_BYTES;
  for (const e of entries) {
    if (e.function === 0xd && e.index >= 2 && (xcr0 >> BigInt(e.index)) % 2n === 1n) size = Math.max(size, e.ebx + e.eax);
  }
  d0.ecx = size;
}

/** AMD 0x80000008 ECX: [7:0] cores − 1 (NC), [15:12] APIC-id bits for the core (ApicIdSize). */
function amdCoreCount(entries: CpuidEntry[], ctx: CpuidVcpuContext): void {
  const e = findCpuid(entries, 0x80000008);
  if (e === undefined || !isAmd(entries)) return;
  e.ecx = ((e.ecx & ~0xf0ff) | (log2ceil(ctx.vcpuCount) << 12) | ((ctx.vcpuCount - 1) & 0xff)) >>> 0;
}

/** AMD 0x8000001E: extended APIC id, core id and threads per core, node 0. */
function amdTopology(entries: CpuidEntry[], ctx: CpuidVcpuContext): void {
  const e = findCpuid(entries, 0x8000001e);
  if (e === undefined || !isAmd(entries)) return;
  const coreId = ctx.apicId >> log2ceil(ctx.threadsPerCore);
  e.eax = ctx.apicId >>> 0;
  e.ebx = (((ctx.threadsPerCore - 1) << 8) | (coreId & 0xff)) >>> 0;
  e.ecx = 0;
}

/** Leaf 0x40000000: EAX is the highest hypervisor leaf, which masks may have changed. */
function hypervisorLeaf(entries: CpuidEntry[]): void {
  const e = findCpuid(entries, 0x40000000);
  if (e === undefined) return;
  e.eax = Math.max(0x40000000, ...entries.filter((x) => x.function >= 0x40000000 && x.function < 0x40000100).map((x) => x.function));
}

/** The rules, in the order they are applied. */
export const CPUID_NORMALISATION: readonly { readonly name: string; readonly apply: (entries: CpuidEntry[], ctx: CpuidVcpuContext) => void }[] = [
  { name: 'leaf 1: APIC id, logical count, HTT, hypervisor, APIC/x2APIC/TSC-deadline', apply: leaf1 },
  { name: 'leaf 4: cores and cache sharing', apply: leaf4 },
  { name: 'leaves 0xB/0x1F: SMT and core levels, x2APIC id', apply: topologyLeaves },
  { name: 'leaf 0xD: XSAVE components of the enabled features', apply: xsaveLeaf },
  { name: 'AMD 0x80000008: core count', apply: amdCoreCount },
  { name: 'AMD 0x8000001E: extended APIC id', apply: amdTopology },
  { name: 'leaf 0x40000000: highest hypervisor leaf', apply: hypervisorLeaf },
];

/** The table of one vCPU (a new array; `table` is not modified). */
export function normalizeCpuid(table: readonly CpuidEntry[], ctx: CpuidVcpuContext): CpuidEntry[] {
  const out = table.map((e) => ({ ...e }));
  for (const rule of CPUID_NORMALISATION) rule.apply(out, ctx);
  return out;
}

/**
 * Bits KVM rewrites while the guest runs (kvm_update_cpuid_runtime), so the guest may see
 * them differ from the table it was given: OSXSAVE and OSPKE mirror CR4, APIC follows
 * APIC_BASE.EN, and the XSAVE sizes in 0xD.0/0xD.1 EBX follow XCR0 and XSS.
 */
export const X86_CPUID_DYNAMIC_BITS: readonly { readonly leaf: number; readonly subleaf: number; readonly register: 'eax' | 'ebx' | 'ecx' | 'edx'; readonly mask: number }[] = [
  { leaf: 1, subleaf: 0, register: 'ecx', mask: 1 << 27 },
  { leaf: 1, subleaf: 0, register: 'edx', mask: 1 << 9 },
  { leaf: 7, subleaf: 0, register: 'ecx', mask: 1 << 4 },
  { leaf: 0xd, subleaf: 0, register: 'ebx', mask: 0xffffffff },
  { leaf: 0xd, subleaf: 1, register: 'ebx', mask: 0xffffffff },
];

const LAPIC_ONLY = "is offered only with an in-kernel LAPIC (archOptions.irqchip: 'kernel')";

/** Why a required bit the normaliser sets or clears is missing, if that is the reason. */
function normaliserReason(bit: CpuidBit, options: CpuidTablesOptions): string | undefined {
  if (bit.leaf !== 1 || (bit.subleaf ?? 0) !== 0) return undefined;
  const is = (f: CpuidBit): boolean => f.register === bit.register && f.bit === bit.bit;
  if (!options.inKernelLapic && [F.apic, F.x2apic, F.tsc_deadline_timer].some(is)) return LAPIC_ONLY;
  if (options.vcpuCount === 1 && is(F.ht)) return 'is set only with more than one vCPU';
  return undefined;
}

export interface CpuidTablesOptions {
  readonly vcpuCount: number;
  readonly inKernelLapic: boolean;
  /** Setting prefix for errors. Default 'archOptions.cpuid'. */
  readonly where?: string;
}

/**
 * The guest CPUID of every vCPU: KVM_GET_SUPPORTED_CPUID ∩ the request, normalised per vCPU.
 * A requirement the result does not meet is a ConfigError naming the leaf, register and bit.
 */
export function buildCpuidTables(supported: readonly CpuidEntry[], request: X86CpuidRequest, options: CpuidTablesOptions): CpuidEntry[][] {
  const where = options.where ?? 'archOptions.cpuid';
  const threadsPerCore = request.threadsPerCore ?? 1;
  if (options.vcpuCount % threadsPerCore !== 0) throw new ConfigError(`${where}.threadsPerCore`, `${threadsPerCore} threads per core does not divide ${options.vcpuCount} vCPUs`);
  const table = applyCpuidRequest(supported, request, where);
  const tables = Array.from({ length: options.vcpuCount }, (_, apicId) => normalizeCpuid(table, { apicId, vcpuCount: options.vcpuCount, threadsPerCore, inKernelLapic: options.inKernelLapic }));
  checkRequiredCpuid(supported, request, tables[0], where, (bit) => normaliserReason(bit, options));
  return tables;
}
