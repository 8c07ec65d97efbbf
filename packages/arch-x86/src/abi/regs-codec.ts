/**
 * `struct kvm_regs` ⇄ X86Regs. Decodes into / encodes from a caller-provided DataView at an
 * optional byte offset (e.g. kvm_run.s.regs), or — the state sync's path — a BigUint64Array of
 * the struct's 18 words, so the run loop can reuse one object and one buffer; offsets come from
 * X86RegsLayout, the order from X86_GPR_NAMES.
 *
 * The four codecs are straight-line functions generated once from those two tables. A loop
 * storing `out[X86_GPR_NAMES[i]]` is a keyed store whose key changes every iteration, which
 * V8 handles as megamorphic: ~20 ns a register, 360 ns a decode (Node 20, measured), most of
 * what reading RIP after an exit cost. Named stores (`out.rax = …`) in generated code cost
 * what the BigInt does (~6 ns from a BigUint64Array). The tables stay the one source.
 */
import { X86RegsLayout } from './layouts';
import { X86_GPR_NAMES, type X86GprName } from './registers';

export type X86Regs = Record<X86GprName, bigint>;

/** kvm_regs as 64-bit words: a register's index is its offset / 8. */
export const X86_REGS_WORDS = X86RegsLayout.size / 8;

/** Each register's index in the struct's 64-bit words. */
export const X86_REG_WORD: Readonly<Record<X86GprName, number>> = Object.fromEntries(X86_GPR_NAMES.map((n) => [n, wordOf(n)])) as Record<X86GprName, number>;

function wordOf(name: X86GprName): number {
  const { offset } = X86RegsLayout.fields[name];
  if (offset % 8 !== 0) throw new Error(`kvm_regs.${name} at ${offset} is not a 64-bit word`);
  return offset / 8;
}

/** One statement per register, from the tables; `line(name, word)` writes it. */
function generate(line: (name: X86GprName, word: number) => string): string {
  // The names are identifiers from a constant table (registers.ts), never input.
  return X86_GPR_NAMES.map((n) => line(n, X86_REG_WORD[n])).join('\n');
}

// DataView forms: little-endian at `at` (the struct as KVM lays it out on an x86 host).
const decodeView = new Function('view', 'out', 'at', `${generate((n, w) => `out.${n} = view.getBigUint64(at + ${w * 8}, true);`)}\nreturn out;`) as (view: DataView, out: X86Regs, at: number) => X86Regs;
// setBigUint64 takes any bigint modulo 2^64 (ToBigUint64): -1n is stored as all ones.
const encodeView = new Function('regs', 'view', 'at', generate((n, w) => `view.setBigUint64(at + ${w * 8}, regs.${n}, true);`)) as (regs: Readonly<X86Regs>, view: DataView, at: number) => void;
// Word forms: host order, which is KVM's (kvmts runs on little-endian x86-64 and arm64 hosts).
const decodeWords = new Function('words', 'out', `${generate((n, w) => `out.${n} = words[${w}];`)}\nreturn out;`) as (words: BigUint64Array, out: X86Regs) => X86Regs;
const encodeWords = new Function('regs', 'words', generate((n, w) => `words[${w}] = regs.${n};`)) as (regs: Readonly<X86Regs>, words: BigUint64Array) => void;

/** All registers zero except rflags bit 1, which is reserved-as-one on x86. */
export function createX86Regs(): X86Regs {
  const r = {} as X86Regs;
  for (const n of X86_GPR_NAMES) r[n] = 0n;
  r.rflags = 0x2n;
  return r;
}

export function decodeRegs(view: DataView, out: X86Regs = createX86Regs(), at = 0): X86Regs {
  return decodeView(view, out, at);
}

export function encodeRegs(regs: Readonly<X86Regs>, view: DataView, at = 0): void {
  encodeView(regs, view, at);
}

/** kvm_regs held as its 18 words (X86_REGS_WORDS) → `out`. */
export function decodeRegsWords(words: BigUint64Array, out: X86Regs = createX86Regs()): X86Regs {
  if (words.length < X86_REGS_WORDS) throw new RangeError(`kvm_regs needs ${X86_REGS_WORDS} words, got ${words.length}`);
  return decodeWords(words, out);
}

/** `regs` → kvm_regs as 18 words (each value modulo 2^64, as a BigUint64Array stores it). */
export function encodeRegsWords(regs: Readonly<X86Regs>, words: BigUint64Array): void {
  if (words.length < X86_REGS_WORDS) throw new RangeError(`kvm_regs needs ${X86_REGS_WORDS} words, got ${words.length}`);
  encodeWords(regs, words);
}
