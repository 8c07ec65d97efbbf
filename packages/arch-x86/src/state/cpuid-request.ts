/**
 * The guest CPUID a user asks for (`archOptions.cpuid`), checked, and applied to what KVM
 * supports: the result is KVM_GET_SUPPORTED_CPUID ∩ the request, plus the overrides (vendor,
 * brand string, masks, topology). Bits are only ever cleared here; the few that kvmts sets
 * itself (hypervisor, TSC-deadline, topology) are the normaliser's (cpuid-normalize.ts).
 */
import { ConfigError, describeValue } from '@kvmts/core';
import {
  CPUID_REGISTERS,
  X86_CPUID_FEATURES,
  describeCpuidBit,
  featureWithDependents,
  isCpuidFeatureName,
  type CpuidBit,
  type CpuidRegister,
  type X86CpuidFeatureName,
} from '../isa/cpuid-features';
import type { CpuidEntry } from './cpuid';

/** A feature by name (X86_CPUID_FEATURES) or as a raw bit. */
export type X86CpuidFeature = X86CpuidFeatureName | CpuidBit;

/** Keep only the bits of `keep` in one register of one leaf (the others are cleared). */
export interface X86CpuidMask {
  readonly leaf: number;
  readonly subleaf?: number;
  readonly register: CpuidRegister;
  readonly keep: number;
}

/** `X86MachineOptions.cpuid`: what the guest should see. Every part is optional. */
export interface X86CpuidRequest {
  /** 12-character vendor id for leaves 0 and 0x80000000, e.g. 'GenuineIntel'. Default: the host's. */
  readonly vendor?: string;
  /** Processor brand string, leaves 0x80000002–0x80000004, at most 47 characters. Default: the host's. */
  readonly brand?: string;
  /** Features the guest must have: a host that cannot offer one is a ConfigError naming the bit. */
  readonly require?: readonly X86CpuidFeature[];
  /** Features to hide (a named feature hides the features that depend on it too). */
  readonly disable?: readonly X86CpuidFeature[];
  readonly masks?: readonly X86CpuidMask[];
  /** Topology: hardware threads per core, a power of two dividing the vCPU count. Default 1. */
  readonly threadsPerCore?: number;
}

const KNOWN = ['vendor', 'brand', 'require', 'disable', 'masks', 'threadsPerCore'];
const VENDOR_LENGTH = 12;
const BRAND_LEAVES = [0x80000002, 0x80000003, 0x80000004];
const BRAND_MAX = BRAND_LEAVES.length * 16 - 1;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkU32(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ConfigError(where, `must be an integer 0..0xffffffff, got ${describeValue(v)}`);
  return v;
}

function checkBit(where: string, raw: unknown): X86CpuidFeature {
  if (typeof raw === 'string') {
    if (!isCpuidFeatureName(raw)) throw new ConfigError(where, `unknown CPUID feature '${raw}' (known: ${Object.keys(X86_CPUID_FEATURES).join(', ')}); or give { leaf, subleaf, register, bit }`);
    return raw;
  }
  if (!isObject(raw)) throw new ConfigError(where, 'must be a feature name or { leaf, subleaf, register, bit }');
  const register = raw.register;
  if (!CPUID_REGISTERS.includes(register as CpuidRegister)) throw new ConfigError(`${where}.register`, `must be one of ${CPUID_REGISTERS.join(', ')}`);
  const bit = raw.bit;
  if (typeof bit !== 'number' || !Number.isInteger(bit) || bit < 0 || bit > 31) throw new ConfigError(`${where}.bit`, `must be 0..31, got ${describeValue(bit)}`);
  return { leaf: checkU32(`${where}.leaf`, raw.leaf), subleaf: raw.subleaf === undefined ? 0 : checkU32(`${where}.subleaf`, raw.subleaf), register: register as CpuidRegister, bit };
}

function checkList<T>(where: string, raw: unknown, item: (where: string, v: unknown) => T): T[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new ConfigError(where, 'must be an array');
  return raw.map((v, i) => item(`${where}[${i}]`, v));
}

function checkAscii(where: string, s: string): void {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new ConfigError(where, 'must be printable ASCII');
}

/** `archOptions.cpuid`, checked; a ConfigError names the bad part. */
export function checkCpuidRequest(raw: unknown, where = 'archOptions.cpuid'): X86CpuidRequest {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new ConfigError(where, 'must be an object (X86CpuidRequest)');
  for (const key of Object.keys(raw)) if (!KNOWN.includes(key)) throw new ConfigError(`${where}.${key}`, `unknown CPUID option (known: ${KNOWN.join(', ')})`);
  const { vendor, brand, threadsPerCore } = raw;
  if (vendor !== undefined) {
    if (typeof vendor !== 'string' || vendor.length !== VENDOR_LENGTH) throw new ConfigError(`${where}.vendor`, `must be a ${VENDOR_LENGTH}-character string, e.g. 'GenuineIntel'`);
    checkAscii(`${where}.vendor`, vendor);
  }
  if (brand !== undefined) {
    if (typeof brand !== 'string' || brand.length > BRAND_MAX) throw new ConfigError(`${where}.brand`, `must be a string of at most ${BRAND_MAX} characters`);
    checkAscii(`${where}.brand`, brand);
  }
  if (threadsPerCore !== undefined && (typeof threadsPerCore !== 'number' || !Number.isInteger(threadsPerCore) || threadsPerCore < 1 || (threadsPerCore & (threadsPerCore - 1)) !== 0)) {
    throw new ConfigError(`${where}.threadsPerCore`, `must be a power of two (1, 2, 4, …), got ${describeValue(threadsPerCore)}`);
  }
  const masks = checkList(`${where}.masks`, raw.masks, (w, v) => {
    if (!isObject(v)) throw new ConfigError(w, 'must be { leaf, subleaf, register, keep }');
    if (!CPUID_REGISTERS.includes(v.register as CpuidRegister)) throw new ConfigError(`${w}.register`, `must be one of ${CPUID_REGISTERS.join(', ')}`);
    return { leaf: checkU32(`${w}.leaf`, v.leaf), subleaf: v.subleaf === undefined ? 0 : checkU32(`${w}.subleaf`, v.subleaf), register: v.register as CpuidRegister, keep: checkU32(`${w}.keep`, v.keep) };
  });
  return {
    ...(vendor !== undefined ? { vendor: vendor as string } : {}),
    ...(brand !== undefined ? { brand: brand as string } : {}),
    require: checkList(`${where}.require`, raw.require, checkBit),
    disable: checkList(`${where}.disable`, raw.disable, checkBit),
    masks,
    ...(threadsPerCore !== undefined ? { threadsPerCore: threadsPerCore as number } : {}),
  };
}

export function bitOf(feature: X86CpuidFeature): CpuidBit {
  return typeof feature === 'string' ? X86_CPUID_FEATURES[feature] : feature;
}

export function findCpuid(entries: readonly CpuidEntry[], leaf: number, subleaf = 0): CpuidEntry | undefined {
  return entries.find((e) => e.function === leaf && e.index === subleaf) ?? entries.find((e) => e.function === leaf && e.index === 0 && (e.flags & 1) === 0);
}

export function hasCpuidBit(entries: readonly CpuidEntry[], bit: CpuidBit): boolean {
  const e = findCpuid(entries, bit.leaf, bit.subleaf);
  return e !== undefined && ((e[bit.register] >>> bit.bit) & 1) === 1;
}

function clearBit(entries: CpuidEntry[], bit: CpuidBit): void {
  const e = findCpuid(entries, bit.leaf, bit.subleaf);
  if (e !== undefined) e[bit.register] = (e[bit.register] & ~(1 << bit.bit)) >>> 0;
}

/** Four ASCII characters as a little-endian register value (how CPUID returns strings). */
function chars(s: string, at: number): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (s.charCodeAt(at + i) || 0);
  return v >>> 0;
}

/**
 * The supported table with the request's disables, masks, vendor and brand applied (a new
 * array; `supported` is not modified). Requirements are checked later, on the normalised
 * table (checkRequiredCpuid), because the normaliser sets a few bits itself.
 */
export function applyCpuidRequest(supported: readonly CpuidEntry[], request: X86CpuidRequest, where = 'archOptions.cpuid'): CpuidEntry[] {
  const out = supported.map((e) => ({ ...e }));
  for (const d of request.disable ?? []) {
    if (typeof d === 'string') for (const n of featureWithDependents(d)) clearBit(out, X86_CPUID_FEATURES[n]);
    else clearBit(out, d);
  }
  for (const m of request.masks ?? []) {
    const e = findCpuid(out, m.leaf, m.subleaf);
    if (e !== undefined) e[m.register] = (e[m.register] & m.keep) >>> 0;
  }
  if (request.vendor !== undefined) {
    const v = request.vendor;
    for (const leaf of [0, 0x80000000]) {
      const e = findCpuid(out, leaf);
      // Intel leaves 0x80000000's vendor registers zero; set them only where the host has them.
      if (e === undefined || (leaf !== 0 && e.ebx === 0)) continue;
      e.ebx = chars(v, 0);
      e.edx = chars(v, 4);
      e.ecx = chars(v, 8);
    }
  }
  if (request.brand !== undefined) {
    const brand = request.brand;
    BRAND_LEAVES.forEach((leaf, i) => {
      const e = findCpuid(out, leaf);
      if (e === undefined) throw new ConfigError(`${where}.brand`, `needs CPUID leaf 0x${leaf.toString(16)}, which this host's KVM does not report (KVM_GET_SUPPORTED_CPUID)`);
      e.eax = chars(brand, i * 16);
      e.ebx = chars(brand, i * 16 + 4);
      e.ecx = chars(brand, i * 16 + 8);
      e.edx = chars(brand, i * 16 + 12);
    });
  }
  return out;
}

/**
 * Every required bit is set in the guest table `table`, or a ConfigError names the leaf,
 * register and bit and says why it is missing: `explain` (bits kvmts itself sets or clears),
 * else the host lacks it, or the request hid it.
 */
export function checkRequiredCpuid(
  supported: readonly CpuidEntry[],
  request: X86CpuidRequest,
  table: readonly CpuidEntry[],
  where = 'archOptions.cpuid',
  explain: (bit: CpuidBit) => string | undefined = () => undefined,
): void {
  (request.require ?? []).forEach((feature, i) => {
    const bit = bitOf(feature);
    if (hasCpuidBit(table, bit)) return;
    const reason =
      explain(bit) ??
      (hasCpuidBit(supported, bit)
        ? 'is hidden by this request (disable, masks, or a feature it depends on)'
        : 'is not offered by this host (KVM_GET_SUPPORTED_CPUID does not set it)');
    throw new ConfigError(`${where}.require[${i}]`, `${describeCpuidBit(bit)} ${reason}`);
  });
}
