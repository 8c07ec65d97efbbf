/**
 * The interpreter's arithmetic: results and the six status flags, as the x86 manuals define
 * them, for 32- and 64-bit operands. Pure, golden-tested on the host tier.
 */

/** RFLAGS status bits. */
export const Flag = {
  CF: 1n << 0n,
  PF: 1n << 2n,
  AF: 1n << 4n,
  ZF: 1n << 6n,
  SF: 1n << 7n,
  OF: 1n << 11n,
} as const;

/** Every status flag: what an ALU operation replaces in RFLAGS. */
export const STATUS_FLAGS = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.OF;

export type AluOp = 'add' | 'sub' | 'and' | 'or' | 'xor' | 'inc' | 'dec';

export interface AluResult {
  /** The result, truncated to the operand width. */
  readonly value: bigint;
  /** The status flags it sets (a subset of STATUS_FLAGS). */
  readonly flags: bigint;
  /** The flags it defines: inc/dec leave CF alone (logical ops clear CF/OF; AF is undefined for them and cleared here). */
  readonly defined: bigint;
}

const MASK: Record<32 | 64, bigint> = { 32: (1n << 32n) - 1n, 64: (1n << 64n) - 1n };
const SIGN: Record<32 | 64, bigint> = { 32: 1n << 31n, 64: 1n << 63n };

/** Per operation: the untruncated result (b is ignored by inc/dec). */
const RAW: Record<AluOp, (a: bigint, b: bigint) => bigint> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  and: (a, b) => a & b,
  or: (a, b) => a | b,
  xor: (a, b) => a ^ b,
  inc: (a) => a + 1n,
  dec: (a) => a - 1n,
};

/** CF and OF from the (truncated) operands and result. */
function carryOverflow(op: AluOp, a: bigint, b: bigint, r: bigint, mask: bigint, sign: bigint): { cf: boolean; of: boolean } {
  switch (op) {
    case 'add':
      return { cf: a + b > mask, of: ((a ^ r) & (b ^ r) & sign) !== 0n };
    case 'inc':
      return { cf: false, of: ((a ^ r) & (1n ^ r) & sign) !== 0n };
    case 'sub':
      return { cf: a < b, of: ((a ^ b) & (a ^ r) & sign) !== 0n };
    case 'dec':
      return { cf: false, of: ((a ^ 1n) & (a ^ r) & sign) !== 0n };
    default:
      return { cf: false, of: false };
  }
}

/** Compute `a op b` at `width` bits with its flags (b is ignored by inc/dec). */
export function alu(op: AluOp, width: 32 | 64, a: bigint, b: bigint): AluResult {
  const mask = MASK[width];
  const sign = SIGN[width];
  a &= mask;
  b &= mask;
  const value = RAW[op](a, b) & mask;
  const { cf, of } = carryOverflow(op, a, b, value, mask, sign);
  const arithmetic = op === 'add' || op === 'sub' || op === 'inc' || op === 'dec';
  const operand = op === 'inc' || op === 'dec' ? 1n : b;
  let flags = 0n;
  if (cf) flags |= Flag.CF;
  if (parityEven(value)) flags |= Flag.PF;
  if (arithmetic && ((a ^ operand ^ value) & 0x10n) !== 0n) flags |= Flag.AF;
  if (value === 0n) flags |= Flag.ZF;
  if ((value & sign) !== 0n) flags |= Flag.SF;
  if (of) flags |= Flag.OF;
  const defined = op === 'inc' || op === 'dec' ? STATUS_FLAGS & ~Flag.CF : STATUS_FLAGS;
  return { value, flags, defined };
}

/** PF: set when the low byte of the result has an even number of one bits. */
function parityEven(v: bigint): boolean {
  let b = Number(v & 0xffn);
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  return (b & 1) === 0;
}

/**
 * Whether condition code `cc` (the low nibble of jcc's opcode) holds under `rflags`:
 * O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G — in pairs, the odd one negating the even.
 */
export function conditionHolds(cc: number, rflags: bigint): boolean {
  const f = (bit: bigint) => (rflags & bit) !== 0n;
  const base = [
    () => f(Flag.OF),
    () => f(Flag.CF),
    () => f(Flag.ZF),
    () => f(Flag.CF) || f(Flag.ZF),
    () => f(Flag.SF),
    () => f(Flag.PF),
    () => f(Flag.SF) !== f(Flag.OF),
    () => f(Flag.ZF) || f(Flag.SF) !== f(Flag.OF),
  ][cc >> 1]();
  return (cc & 1) === 0 ? base : !base;
}
