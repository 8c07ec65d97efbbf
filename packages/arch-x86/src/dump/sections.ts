/**
 * The eight state dumps gem5's X86KvmCPU offers — integer, special, FPU, XSAVE, XCRs, debug
 * registers, vCPU events, MSRs — as tables: each section lists its rows (a key, a value and
 * how the value reads), which x86Dump() turns into a structured object and formatX86Dump()
 * into text. Register lists come from the ABI and ISA tables, so nothing is written twice.
 */
import { X86_DTABLE_NAMES, X86_GPR_NAMES, X86_SEGMENT_ATTR_NAMES, X86_SEGMENT_NAMES, X86_SREGS_U64 } from '../abi/registers';
import { X86VcpuEventValid } from '../abi/constants';
import { X86_FPR_COUNT, X86_XMM_COUNT, decodeFxsave } from '../abi/fpu-codec';
import { X86_DR_ADDRESS_COUNT } from '../abi/debugregs-codec';
import { XSAVE_HEADER, xsaveArea, xsaveComponent, xsaveComponentNames } from '../isa/xsave';
import { msrName } from '../isa/msrs';
import type { X86ThreadContext } from '../state/thread-context';

export type DumpValue = bigint | number | string | { readonly [key: string]: DumpValue };

/** One row: its key in the structured dump, its value there, and its text. */
export interface DumpRow {
  readonly key: string;
  readonly value: DumpValue;
  readonly text: string;
}

export interface DumpSectionSpec {
  readonly title: string;
  /** The rows, grouped into lines of text. */
  readonly lines: (tc: X86ThreadContext) => DumpRow[][];
}

const hex = (v: bigint | number, digits: number): string => '0x' + v.toString(16).padStart(digits, '0');
const row = (key: string, value: DumpValue, text: string): DumpRow => ({ key, value, text });
const u64 = (key: string, v: bigint): DumpRow => row(key, v, hex(v, 16));
const chunk = <T>(items: T[], n: number): T[][] => Array.from({ length: Math.ceil(items.length / n) }, (_, i) => items.slice(i * n, i * n + n));

/** Little-endian bytes as one unsigned integer. */
function bytesValue(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** An x87 80-bit register (bits 79:0 of its slot) as an approximate number, for reading. */
function float80(slot: bigint): number {
  const mantissa = slot & ((1n << 64n) - 1n);
  const exponent = Number((slot >> 64n) & 0x7fffn);
  const sign = (slot >> 79n) & 1n ? -1 : 1;
  if (exponent === 0x7fff) return mantissa << 1n === 0n ? sign * Infinity : NaN;
  return sign * (Number(mantissa) / 2 ** 63) * 2 ** (Math.max(exponent, 1) - 16383);
}

function names(mask: number, table: Readonly<Record<string, number>>): string {
  const set = Object.entries(table).filter(([, bit]) => (mask & bit) !== 0).map(([n]) => n);
  return set.length ? set.join('|') : '-';
}

function fields(obj: Readonly<Record<string, number | bigint>>): DumpRow {
  return row('', obj, Object.entries(obj).map(([k, v]) => `${k}=${typeof v === 'bigint' ? hex(v, 1) : v}`).join(' '));
}

export const X86_DUMP_SECTIONS = {
  integer: {
    title: 'integer registers',
    lines: (tc) => chunk(X86_GPR_NAMES.map((n) => u64(n, tc.regs[n])), 4),
  },
  special: {
    title: 'special registers',
    lines: (tc) => {
      const s = tc.sregs;
      const segs = X86_SEGMENT_NAMES.map((n) => {
        const g = s[n];
        const attrs = X86_SEGMENT_ATTR_NAMES.map((a) => `${a === 'present' ? 'p' : a}=${a === 'type' ? hex(g.type, 1) : g[a]}`).join(' ');
        const value = { selector: g.selector, base: g.base, limit: g.limit, ...Object.fromEntries(X86_SEGMENT_ATTR_NAMES.map((a) => [a, g[a]])) };
        return [row(n, value, `sel=${hex(g.selector, 4)} base=${hex(g.base, 16)} limit=${hex(g.limit, 8)} ${attrs}`)];
      });
      const tables = X86_DTABLE_NAMES.map((n) => [row(n, { base: s[n].base, limit: s[n].limit }, `base=${hex(s[n].base, 16)} limit=${hex(s[n].limit, 4)}`)]);
      const crs = chunk(X86_SREGS_U64.map((r) => u64(r.member, s[r.name])), 4);
      const pae = [u64('sregs2_flags', s.flags), ...s.pdptrs.map((p, i) => u64(`pdptr${i}`, p))];
      return [...segs, ...tables, ...crs, pae];
    },
  },
  fpu: {
    title: 'FPU (x87, SSE: the XSAVE legacy region)',
    lines: (tc) => {
      const x = tc.xsave;
      const f = decodeFxsave(new DataView(x.buffer, x.byteOffset, x.byteLength));
      const control = [
        row('fcw', f.fcw, hex(f.fcw, 4)),
        row('fsw', f.fsw, hex(f.fsw, 4)),
        row('ftw', f.ftwx, hex(f.ftwx, 2)),
        row('fop', f.lastOpcode, hex(f.lastOpcode, 4)),
        row('fip', f.lastIp, hex(f.lastIp, 16)),
        row('fdp', f.lastDp, hex(f.lastDp, 16)),
      ];
      const simd = [row('mxcsr', f.mxcsr, hex(f.mxcsr, 8)), row('mxcsr_mask', f.mxcsrMask, hex(f.mxcsrMask, 8))];
      const st = Array.from({ length: X86_FPR_COUNT }, (_, i) => {
        const v = f.fpr[i] & ((1n << 80n) - 1n);
        return row(`st${i}`, v, `${hex(v >> 64n, 4)}:${hex(v & ((1n << 64n) - 1n), 16).slice(2)} (≈ ${float80(v)})`);
      });
      const xmm = Array.from({ length: X86_XMM_COUNT }, (_, i) => row(`xmm${i}`, f.xmm[i], hex(f.xmm[i], 32)));
      return [control, simd, ...chunk(st, 2), ...chunk(xmm, 2)];
    },
  },
  xsave: {
    title: 'XSAVE area',
    lines: (tc) => {
      const x = tc.xsave;
      const v = new DataView(x.buffer, x.byteOffset, x.byteLength);
      const bv = v.getBigUint64(XSAVE_HEADER.xstateBv, true);
      const head = [
        row('xstate_bv', bv, `${hex(bv, 16)} (${xsaveComponentNames(bv).join(' ') || 'none'})`),
        row('xcomp_bv', v.getBigUint64(XSAVE_HEADER.xcompBv, true), hex(v.getBigUint64(XSAVE_HEADER.xcompBv, true), 16)),
        row('bytes', x.length, String(x.length)),
      ];
      const lines: DumpRow[][] = [head];
      for (let bit = 2; bit < 64; bit++) {
        if (((bv >> BigInt(bit)) & 1n) === 0n) continue;
        const c = xsaveComponent(bit);
        const area = xsaveArea(tc.cpuid, bit);
        const name = c?.name ?? `component${bit}`;
        if (area === undefined || area.offset + area.size > x.length) {
          lines.push([row(name, 'unknown location', '(no CPUID.(0xD) sub-leaf for it)')]);
          continue;
        }
        lines.push([row(name, { offset: area.offset, size: area.size }, `offset=${area.offset} size=${area.size}`)]);
        const r = c?.registers;
        if (r === undefined) continue;
        const regs = Array.from({ length: r.count }, (_, i) => {
          const at = area.offset + i * r.bytes;
          const value = bytesValue(x.subarray(at, at + r.bytes));
          return row(`${r.prefix}${r.first + i}${r.suffix}`, value, hex(value, r.bytes * 2));
        });
        lines.push(...chunk(regs, r.bytes <= 16 ? 2 : 1));
      }
      return lines;
    },
  },
  xcrs: {
    title: 'extended control registers',
    lines: (tc) => [tc.xcrs.map((x) => row(`xcr${x.index}`, x.value, `${hex(x.value, 16)}${x.index === 0 ? ` (${xsaveComponentNames(x.value).join(' ')})` : ''}`))],
  },
  debug: {
    title: 'debug registers',
    lines: (tc) => {
      const d = tc.debugRegs;
      return [Array.from({ length: X86_DR_ADDRESS_COUNT }, (_, i) => u64(`dr${i}`, d.db[i])), [u64('dr6', d.dr6), u64('dr7', d.dr7)]];
    },
  },
  events: {
    title: 'vCPU events',
    lines: (tc) => {
      const e = tc.events;
      const keyed = (key: string, obj: Readonly<Record<string, number | bigint>>): DumpRow => ({ ...fields(obj), key });
      return [
        [keyed('exception', { injected: e.exception.injected, nr: e.exception.nr, has_error_code: e.exception.hasErrorCode, pending: e.exception.pending, error_code: e.exception.errorCode })],
        [keyed('interrupt', { injected: e.interrupt.injected, nr: e.interrupt.nr, soft: e.interrupt.soft, shadow: e.interrupt.shadow })],
        [keyed('nmi', { injected: e.nmi.injected, pending: e.nmi.pending, masked: e.nmi.masked })],
        [keyed('smi', { smm: e.smi.smm, pending: e.smi.pending, smm_inside_nmi: e.smi.smmInsideNmi, latched_init: e.smi.latchedInit })],
        [
          row('sipi_vector', e.sipiVector, hex(e.sipiVector, 2)),
          row('flags', e.flags, `${hex(e.flags, 2)} (${names(e.flags, X86VcpuEventValid)})`),
          row('triple_fault_pending', e.tripleFaultPending, String(e.tripleFaultPending)),
        ],
        [keyed('exception_payload', { has_payload: e.exceptionHasPayload, payload: e.exceptionPayload })],
      ];
    },
  },
  msrs: {
    title: 'model-specific registers',
    lines: (tc) => tc.msrs.map((m) => [row(hex(m.index, 8), { name: msrName(m.index), value: m.value }, `${msrName(m.index).padEnd(24)} ${hex(m.value, 16)}`)]),
  },
} as const satisfies Record<string, DumpSectionSpec>;

export type X86DumpSection = keyof typeof X86_DUMP_SECTIONS;
export const X86_DUMP_SECTION_NAMES = Object.keys(X86_DUMP_SECTIONS) as X86DumpSection[];
