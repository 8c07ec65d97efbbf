import { ConfigError, copyPlainData, copySameShape, type ThreadContext } from '@kvmts/core';
import { createX86Regs, type X86Regs } from '../abi/regs-codec';
import { createX86Sregs2, type X86Sregs2 } from '../abi/sregs-codec';
import { createX86DebugRegs, type X86DebugRegs } from '../abi/debugregs-codec';
import { createX86VcpuEvents, type X86VcpuEvents } from '../abi/vcpu-events-codec';
import type { X86Xcr } from '../abi/xcrs-codec';
import type { X86Msr } from '../abi/msrs-codec';
import { KVM_APIC_REG_SIZE, KVM_MAX_XCRS } from '../abi/constants';
import { KVM_XSAVE_BYTES, XSAVE_MIN_BYTES } from '../isa/xsave';
import type { CpuidEntry } from './cpuid';
import { X86_STATE_GROUPS, type X86StateGroup } from './groups';

/** Every state group's value (the fields of an X86ThreadContext). */
export interface X86StateData {
  /** The guest CPUID table (KVM_GET_CPUID2). Empty: none carried; the CPU keeps its own. */
  cpuid: CpuidEntry[];
  /** KVM_MP_STATE_* (KvmMpState). */
  mpState: number;
  regs: X86Regs;
  /** Special registers in KVM_GET_SREGS2 form; a pending external interrupt travels in `events`. */
  sregs: X86Sregs2;
  /**
   * The XSAVE image, standard format, verbatim (KVM_GET_XSAVE2: KVM_CAP_XSAVE2 bytes): x87 and
   * SSE in its legacy region (decodeFxsave), every other enabled component after the header.
   */
  xsave: Uint8Array;
  xcrs: X86Xcr[];
  debugRegs: X86DebugRegs;
  /** The xAPIC register page (KVM_GET_LAPIC, 1024 bytes); empty without an in-kernel LAPIC. */
  lapic: Uint8Array;
  /** The serializable MSRs (isa/msrs.ts), in restore order. */
  msrs: X86Msr[];
  events: X86VcpuEvents;
}

/** The plain-data form of an X86ThreadContext (what toJSON returns and fromData accepts). */
export interface X86ThreadContextData extends X86StateData {
  readonly arch: 'x86_64';
}

/** The CPU behind a live context: brings `group` up to date with KVM unless it already is. */
export interface X86StateSource {
  ensure(group: X86StateGroup): void;
}

export function createX86StateData(): X86StateData {
  return {
    cpuid: [],
    mpState: 0,
    regs: createX86Regs(),
    sregs: createX86Sregs2(),
    xsave: new Uint8Array(KVM_XSAVE_BYTES),
    xcrs: [],
    debugRegs: createX86DebugRegs(),
    lapic: new Uint8Array(0),
    msrs: [],
    events: createX86VcpuEvents(),
  };
}

/**
 * x86-64 architectural state of one hardware thread, as kvmts moves it between CPU models: one
 * field per state group (X86_STATE_GROUPS). A CPU's own context is live: reading a field after
 * a run pulls that group from KVM first (one ioctl), so read it through `getThreadContext()`
 * each time and mutate the objects in place (then `markThreadContextDirty()` or the CPU's
 * `markDirty(group)`). A context from `fromData`, `copyFrom` or `toJSON` holds its own copy.
 */
export class X86ThreadContext implements ThreadContext {
  readonly arch = 'x86_64';

  /** `state` is held, not copied: a CPU decodes into it. `source` pulls stale groups. */
  constructor(
    private readonly state: X86StateData = createX86StateData(),
    private readonly source?: X86StateSource,
  ) {}

  get cpuid(): CpuidEntry[] {
    this.source?.ensure('cpuid');
    return this.state.cpuid;
  }
  get mpState(): number {
    this.source?.ensure('mpState');
    return this.state.mpState;
  }
  set mpState(value: number) {
    this.source?.ensure('mpState');
    this.state.mpState = value;
  }
  get regs(): X86Regs {
    this.source?.ensure('regs');
    return this.state.regs;
  }
  get sregs(): X86Sregs2 {
    this.source?.ensure('sregs');
    return this.state.sregs;
  }
  get xsave(): Uint8Array {
    this.source?.ensure('xsave');
    return this.state.xsave;
  }
  get xcrs(): X86Xcr[] {
    this.source?.ensure('xcrs');
    return this.state.xcrs;
  }
  get debugRegs(): X86DebugRegs {
    this.source?.ensure('debugRegs');
    return this.state.debugRegs;
  }
  get lapic(): Uint8Array {
    this.source?.ensure('lapic');
    return this.state.lapic;
  }
  get msrs(): X86Msr[] {
    this.source?.ensure('msrs');
    return this.state.msrs;
  }
  get events(): X86VcpuEvents {
    this.source?.ensure('events');
    return this.state.events;
  }

  /** The value of MSR `index`, if the context carries it. */
  msr(index: number): bigint | undefined {
    return this.msrs.find((m) => m.index === index)?.value;
  }

  /** A deep copy of every group (a live context pulls what is stale first). */
  toJSON(): X86ThreadContextData {
    const out = { arch: this.arch } as X86ThreadContextData;
    // copyPlainData, not structuredClone: the groups are plain data, and a clone per group cost
    // most of a restore's time in the vCPU thread (scripts/bench/README.md, warm restore).
    for (const g of X86_STATE_GROUPS) (out as unknown as Record<string, unknown>)[g] = copyPlainData(this[g]);
    return out;
  }

  /** Replace every group with a copy of `other`'s. */
  copyFrom(other: X86ThreadContext): void {
    const data = other.toJSON();
    for (const g of X86_STATE_GROUPS) (this.state as unknown as Record<string, unknown>)[g] = data[g];
  }

  /**
   * A context from its plain-data form. The fixed-shape groups are checked field by field
   * against a fresh context (assertSameShape); the variable-size ones — the XSAVE image, the
   * LAPIC page, the CPUID, XCR and MSR lists — explicitly. A bad field is a ConfigError naming it.
   */
  static fromData(data: unknown): X86ThreadContext {
    const where = 'threadContext';
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(where, 'must be an object (X86ThreadContextData)');
    const d = data as Record<string, unknown>;
    if (d.arch !== 'x86_64') throw new ConfigError(`${where}.arch`, `is '${String(d.arch)}': an x86_64 CPU cannot take it`);
    const expected = ['arch', ...X86_STATE_GROUPS];
    for (const key of Object.keys(d)) if (!expected.includes(key)) throw new ConfigError(`${where}.${key}`, 'unknown field');
    const template = fixedShapeTemplate;
    const state: X86StateData = {
      cpuid: checkCpuid(d.cpuid, `${where}.cpuid`),
      mpState: copySameShape(template.mpState, d.mpState, `${where}.mpState`),
      regs: copySameShape(template.regs, d.regs, `${where}.regs`),
      sregs: copySameShape(template.sregs, d.sregs, `${where}.sregs`),
      xsave: checkBytes(d.xsave, `${where}.xsave`, (n) => n >= XSAVE_MIN_BYTES, `at least ${XSAVE_MIN_BYTES} bytes (legacy region and XSAVE header)`),
      xcrs: checkList(d.xcrs, `${where}.xcrs`, KVM_MAX_XCRS, (x, field) => ({ index: checkU32(x.index, field('index')), value: checkU64(x.value, field('value')) })),
      debugRegs: copySameShape(template.debugRegs, d.debugRegs, `${where}.debugRegs`),
      lapic: checkBytes(d.lapic, `${where}.lapic`, (n) => n === 0 || n === KVM_APIC_REG_SIZE, `0 or ${KVM_APIC_REG_SIZE} bytes`),
      msrs: checkList(d.msrs, `${where}.msrs`, Infinity, (x, field) => ({ index: checkU32(x.index, field('index')), value: checkU64(x.value, field('value')) })),
      events: copySameShape(template.events, d.events, `${where}.events`),
    };
    const seen = new Set<number>();
    state.msrs.forEach((m, i) => {
      if (seen.has(m.index)) throw new ConfigError(`${where}.msrs[${i}].index`, `MSR 0x${m.index.toString(16)} appears twice`);
      seen.add(m.index);
    });
    return new X86ThreadContext(state);
  }
}

/** The fixed-shape groups' shapes, made once (fromData checks every context against them, never changes them). */
const fixedShapeTemplate = createX86StateData();

/**
 * Where a value sits, for an error message: a path, or a list entry's field — whose path is built
 * only for the error (80 CPUID entries of 7 fields would otherwise build 560 strings for nothing).
 */
type Where = string | { readonly list: string; readonly i: number; readonly field: string };
const named = (w: Where): string => (typeof w === 'string' ? w : `${w.list}[${w.i}].${w.field}`);

function checkU32(v: unknown, where: Where): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ConfigError(named(where), `expected an integer 0..0xffffffff, got ${String(v)}`);
  return v;
}

function checkU64(v: unknown, where: Where): bigint {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new ConfigError(named(where), `expected a bigint 0..2^64-1, got ${typeof v === 'bigint' ? v : typeof v}`);
  return v;
}

function checkBytes(v: unknown, where: string, sizeOk: (n: number) => boolean, sizes: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new ConfigError(where, `expected a Uint8Array, got ${v === null ? 'null' : typeof v}`);
  if (!sizeOk(v.length)) throw new ConfigError(where, `is ${v.length} bytes, expected ${sizes}`);
  return v.slice();
}

/** `item(x, field)` checks and copies entry x; `field(name)` says where one of its fields sits. */
function checkList<T>(v: unknown, where: string, max: number, item: (x: Record<string, unknown>, field: (name: string) => Where) => T): T[] {
  if (!Array.isArray(v)) throw new ConfigError(where, `expected an array, got ${v === null ? 'null' : typeof v}`);
  if (v.length > max) throw new ConfigError(where, `has ${v.length} entries, at most ${max} allowed`);
  return v.map((x, i) => {
    if (typeof x !== 'object' || x === null) throw new ConfigError(`${where}[${i}]`, 'expected an object');
    const out = item(x as Record<string, unknown>, (field) => ({ list: where, i, field }));
    for (const k in x) if (!(k in (out as object))) throw new ConfigError(`${where}[${i}].${k}`, 'unknown field');
    return out;
  });
}

const CPUID_FIELDS = ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const;

function checkCpuid(v: unknown, where: string): CpuidEntry[] {
  return checkList(v, where, Infinity, (x, field) => {
    const e = {} as CpuidEntry;
    for (const f of CPUID_FIELDS) e[f] = checkU32(x[f], field(f));
    return e;
  });
}
