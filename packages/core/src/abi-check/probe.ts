/**
 * ABI checking for kvmts and for third-party arch packages: compare TypeScript ABI tables with
 * the installed kernel headers (used by every package's abi test; needs a C compiler).
 *
 * `collectAbiChecks` walks an ABI module namespace and turns EVERY exported table into C
 * expressions (macro values, sizeof, offsetof), so a table entry cannot escape the check;
 * exports it cannot classify are reported, and the calling test fails on them.
 * `runAbiProbe` writes those expressions into a C file, compiles it with gcc against
 * <linux/kvm.h> / <asm/kvm.h>, runs it and parses `name value` lines.
 * `compileAbiProbe` is for cross compilers (an arm64 plugin checked on an x86 machine): the
 * values go into a static array that is only compiled to assembly and read back from it, so
 * nothing built for the other architecture has to run.
 * A missing compiler or missing headers is an error (the ABI test must fail, not skip).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KvmtsError } from '../errors/errors';
import { nodeChildProcess } from '../util/lazy-builtins';

/** The probe could not be built or run (no compiler, no headers), or its output was malformed. */
export class AbiProbeError extends KvmtsError {}

/** One value to compare: `expected` from TypeScript, `expr` evaluated in C. */
export interface AbiCheck {
  /** Unique, human-readable id, e.g. 'X86SregsLayout.cr0@offset'. */
  readonly id: string;
  readonly expected: bigint;
  /** C integer expression. */
  readonly expr: string;
  /** When set, the expression is only compiled `#ifdef macro`; absent macros are reported. */
  readonly macro?: string;
}

/** Flat legacy layout `{ member: offset, <sizeKey>: sizeof }` with its C mapping. */
export interface FlatLayoutMapping {
  readonly struct: string;
  /** TS key → C member designator (for offsetof) or the literal 'sizeof' (for sizeof(struct)). */
  readonly members: Readonly<Record<string, string>>;
}

/** Other exports and how to check or why to skip them. */
export interface CollectOptions {
  /** Table name → macro prefix (KvmAbiTablePrefixes / X86AbiTablePrefixes). */
  readonly tablePrefixes: Readonly<Record<string, string>>;
  /** Flat legacy layouts, by export name. */
  readonly flatLayouts?: Readonly<Record<string, FlatLayoutMapping>>;
  /** Numeric exports not named like their macro: export name → C expression. */
  readonly namedConstants?: Readonly<Record<string, string>>;
  /** Exports that are not ABI values (metadata tables), by name. */
  readonly notAbi?: readonly string[];
}

export interface CollectedChecks {
  readonly checks: AbiCheck[];
  /** Export names nothing above accounts for: a test must assert this is empty. */
  readonly unclassified: string[];
}

interface AbiStructLike {
  struct: string;
  size: number;
  fields: Record<string, { offset: number; size: number; stride?: number }>;
}

function isAbiStruct(v: unknown): v is AbiStructLike {
  return (
    typeof v === 'object' && v !== null && typeof (v as AbiStructLike).struct === 'string' &&
    typeof (v as AbiStructLike).size === 'number' && typeof (v as AbiStructLike).fields === 'object'
  );
}

/** Name → numeric value entries of a const object or a TS numeric enum (minus reverse keys). */
function numericEntries(table: object): [string, number][] {
  return Object.entries(table).filter(
    (e): e is [string, number] => typeof e[1] === 'number' && !/^\d+$/.test(e[0]),
  );
}

export function structChecks(name: string, s: AbiStructLike): AbiCheck[] {
  const T = `struct ${s.struct}`;
  const out: AbiCheck[] = [{ id: `${name}.size`, expected: BigInt(s.size), expr: `sizeof(${T})` }];
  for (const [member, f] of Object.entries(s.fields)) {
    out.push({ id: `${name}.${member}@offset`, expected: BigInt(f.offset), expr: `offsetof(${T}, ${member})` });
    if (f.size > 0) {
      out.push({ id: `${name}.${member}@size`, expected: BigInt(f.size), expr: `sizeof(((${T} *)0)->${member})` });
    }
    if (f.stride !== undefined) {
      out.push({ id: `${name}.${member}@stride`, expected: BigInt(f.stride), expr: `sizeof(((${T} *)0)->${member}[0])` });
    }
    if (f.size === 0 && f.stride === undefined) {
      throw new AbiProbeError(`${name}.${member}: size 0 (flexible array) needs a stride`);
    }
  }
  return out;
}

export function collectAbiChecks(ns: Record<string, unknown>, opts: CollectOptions): CollectedChecks {
  const checks: AbiCheck[] = [];
  const unclassified: string[] = [];
  for (const [name, value] of Object.entries(ns)) {
    if (typeof value === 'function' && !(name in opts.tablePrefixes)) continue; // functions/classes
    if (opts.notAbi?.includes(name)) continue;
    if (name in opts.tablePrefixes) {
      const prefix = opts.tablePrefixes[name];
      for (const [k, v] of numericEntries(value as object)) {
        const macro = `${prefix}${k}`;
        checks.push({ id: `${name}.${k} (${macro})`, expected: BigInt(v), expr: macro, macro });
      }
    } else if (typeof value === 'number' && /^KVM_[A-Z0-9_]+$/.test(name)) {
      checks.push({ id: name, expected: BigInt(value), expr: name, macro: name });
    } else if (typeof value === 'number' && opts.namedConstants && name in opts.namedConstants) {
      checks.push({ id: name, expected: BigInt(value), expr: opts.namedConstants[name] });
    } else if (isAbiStruct(value)) {
      checks.push(...structChecks(name, value));
    } else if (opts.flatLayouts && name in opts.flatLayouts) {
      const map = opts.flatLayouts[name];
      const T = `struct ${map.struct}`;
      for (const [k, v] of Object.entries(value as Record<string, number>)) {
        const member = map.members[k];
        if (member === undefined) {
          unclassified.push(`${name}.${k} (no C mapping)`);
        } else if (member === 'sizeof') {
          checks.push({ id: `${name}.${k}`, expected: BigInt(v), expr: `sizeof(${T})` });
        } else {
          checks.push({ id: `${name}.${k}`, expected: BigInt(v), expr: `offsetof(${T}, ${member})` });
        }
      }
    } else if (Array.isArray(value) && value.every(isAbiStruct)) {
      continue; // a list of layouts that are exported (and checked) individually
    } else {
      unclassified.push(name);
    }
  }
  return { checks, unclassified };
}

export interface ProbeResult {
  /** id → value computed by C. */
  readonly values: Map<string, bigint>;
  /** ids whose guarding macro is not defined in the installed headers. */
  readonly missing: Set<string>;
  /** LINUX_VERSION_CODE of the installed uapi headers. */
  readonly headerVersion: number;
}

/** `'6.8'` → LINUX_VERSION_CODE-style number. */
export function kernelVersionCode(version: string): number {
  const [a = 0, b = 0, c = 0] = version.split('.').map(Number);
  return (a << 16) + (b << 8) + c;
}

function cString(s: string): string {
  return JSON.stringify(s); // ids are ASCII; JSON escaping is valid C for them
}

export function probeSource(checks: readonly AbiCheck[]): string {
  const lines = [
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <linux/version.h>',
    '#include <linux/kvm.h>',
    '#include <asm/kvm.h>',
    'int main(void) {',
    '  printf("LINUX_VERSION_CODE %lld\\n", (long long)LINUX_VERSION_CODE);',
  ];
  for (const c of checks) {
    const print = `  printf("%s %lld\\n", ${cString(c.id)}, (long long)(${c.expr}));`;
    if (c.macro) {
      lines.push(`#ifdef ${c.macro}`, print, '#else', `  printf("%s ?\\n", ${cString(c.id)});`, '#endif');
    } else {
      lines.push(print);
    }
  }
  lines.push('  return 0;', '}', '');
  return lines.join('\n');
}

/** The array compiledProbeSource declares. */
const COMPILED_PROBE_SYMBOL = 'kvmts_abi_probe';

/**
 * The probe for `compileAbiProbe`: `{present, value}` pairs in one static array (LINUX_VERSION_CODE
 * first), which a compiler for any target turns into data directives of its assembly output.
 */
export function compiledProbeSource(checks: readonly AbiCheck[]): string {
  const lines = [
    '#include <stddef.h>',
    '#include <linux/version.h>',
    '#include <linux/kvm.h>',
    '#include <asm/kvm.h>',
    `long long ${COMPILED_PROBE_SYMBOL}[] = {`,
    '  1, (long long)LINUX_VERSION_CODE,',
  ];
  for (const c of checks) {
    const pair = `  1, (long long)(${c.expr}), /* ${c.id.replace(/\*\//g, '* /')} */`;
    if (c.macro) lines.push(`#ifdef ${c.macro}`, pair, '#else', '  0, 0,', '#endif');
    else lines.push(pair);
  }
  lines.push('};', '');
  return lines.join('\n');
}

/** 64-bit data directives across GNU assemblers (x86 .quad, arm64 .xword, others .8byte/.dword) and zero fill. */
const DATA_DIRECTIVE = /^\s*\.(quad|xword|8byte|dword)\s+(-?\d+)\s*$/;
const ZERO_DIRECTIVE = /^\s*\.(zero|skip|space)\s+(\d+)\s*$/;

/** The values of the probe array, in order, from the compiler's assembly output. */
export function parseCompiledProbe(assembly: string): bigint[] {
  const lines = assembly.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${COMPILED_PROBE_SYMBOL}:`);
  if (start < 0) throw new AbiProbeError(`ABI probe: the assembly has no ${COMPILED_PROBE_SYMBOL} label`);
  const values: bigint[] = [];
  for (const line of lines.slice(start + 1)) {
    const data = DATA_DIRECTIVE.exec(line);
    const zero = data ? null : ZERO_DIRECTIVE.exec(line);
    if (data) values.push(BigInt(data[2]));
    else if (zero && Number(zero[2]) % 8 === 0) for (let i = 0; i < Number(zero[2]) / 8; i++) values.push(0n);
    else break;
  }
  return values;
}

function checkUniqueIds(checks: readonly AbiCheck[]): void {
  const ids = new Set<string>();
  for (const c of checks) {
    if (ids.has(c.id)) throw new AbiProbeError(`duplicate probe id ${c.id}`);
    ids.add(c.id);
  }
}

/** Compile `source` with `cc` and `args` in a scratch directory; `use` reads the result before the directory goes. */
// node:child_process, loaded when the ABI check runs its compiler (../util/lazy-builtins.ts).
const childProcess = nodeChildProcess;

function compileProbe<T>(cc: string, source: string, args: (src: string, out: string) => string[], use: (out: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-abi-'));
  try {
    const src = path.join(dir, 'probe.c');
    const out = path.join(dir, 'probe.out');
    fs.writeFileSync(src, source);
    const compile = childProcess().spawnSync(cc, ['-std=gnu11', '-O0', ...args(src, out)], { encoding: 'utf8' });
    if (compile.error) {
      throw new AbiProbeError(
        `cannot run the C compiler '${cc}' (${compile.error.message}). The ABI test needs the compiler and the ` +
          `kernel uapi headers of the target: apt-get install -y gcc linux-libc-dev (arm64 from x86: gcc-aarch64-linux-gnu)`,
      );
    }
    if (compile.status !== 0) {
      const hint = /linux\/kvm\.h|asm\/kvm\.h|linux\/version\.h/.test(compile.stderr)
        ? ' Kernel headers are missing: apt-get install -y linux-libc-dev.'
        : ' A table names a struct member or macro the installed headers do not have.';
      throw new AbiProbeError(`ABI probe failed to compile.${hint}\n${compile.stderr.slice(0, 4000)}`);
    }
    return use(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Compile and run the probe; throws AbiProbeError with what to install when it cannot. */
export function runAbiProbe(checks: readonly AbiCheck[], cc = process.env.CC ?? 'gcc'): ProbeResult {
  checkUniqueIds(checks);
  return compileProbe(cc, probeSource(checks), (src, bin) => ['-o', bin, src], (bin) => {
    const run = childProcess().spawnSync(bin, [], { encoding: 'utf8' });
    if (run.status !== 0) throw new AbiProbeError(`ABI probe exited with ${run.status}: ${run.stderr}`);
    const values = new Map<string, bigint>();
    const missing = new Set<string>();
    let headerVersion = -1;
    for (const line of run.stdout.split('\n')) {
      if (line === '') continue;
      const sp = line.lastIndexOf(' ');
      const id = line.slice(0, sp);
      const v = line.slice(sp + 1);
      if (id === 'LINUX_VERSION_CODE') headerVersion = Number(v);
      else if (v === '?') missing.add(id);
      else values.set(id, BigInt(v));
    }
    return { values, missing, headerVersion };
  });
}

/**
 * The probe for a compiler whose output cannot run here (a cross compiler, e.g.
 * `aarch64-linux-gnu-gcc` with the arm64 uapi headers of its sysroot): the values are computed by
 * the compiler and read from its assembly output (`-S`), never executed. Same result as
 * runAbiProbe would give on the target.
 */
export function compileAbiProbe(checks: readonly AbiCheck[], cc: string): ProbeResult {
  checkUniqueIds(checks);
  const values = compileProbe(cc, compiledProbeSource(checks), (src, asm) => ['-S', '-o', asm, src], (asm) => parseCompiledProbe(fs.readFileSync(asm, 'utf8')));
  if (values.length !== 2 * (checks.length + 1)) {
    throw new AbiProbeError(`ABI probe: expected ${2 * (checks.length + 1)} values in the assembly of ${cc}, read ${values.length}`);
  }
  const result = { values: new Map<string, bigint>(), missing: new Set<string>(), headerVersion: Number(values[1]) };
  checks.forEach((c, i) => {
    if (values[2 * i + 2] === 0n) result.missing.add(c.id);
    else result.values.set(c.id, values[2 * i + 3]);
  });
  return result;
}

function hex(v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

/**
 * Compare every check with the probe. Returns human-readable problems (empty = all match).
 * A macro absent from the headers is accepted only when `introducedIn[macro]` names a
 * kernel newer than the headers.
 */
export function compareWithProbe(
  checks: readonly AbiCheck[],
  probe: ProbeResult,
  introducedIn: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  for (const c of checks) {
    if (probe.missing.has(c.id)) {
      const since = c.macro ? introducedIn[c.macro] : undefined;
      if (since === undefined) {
        problems.push(`${c.id}: macro not defined by the installed headers (and not listed as newer)`);
      } else if (kernelVersionCode(since) <= probe.headerVersion) {
        problems.push(`${c.id}: listed as new in ${since}, but the headers (${probe.headerVersion}) lack it`);
      }
      continue;
    }
    const actual = probe.values.get(c.id);
    if (actual === undefined) problems.push(`${c.id}: no value from the probe`);
    else if (actual !== c.expected) problems.push(`${c.id}: TypeScript ${hex(c.expected)}, headers ${hex(actual)}`);
  }
  return problems;
}
