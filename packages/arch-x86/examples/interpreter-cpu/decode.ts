/**
 * The interpreter's instruction decoder: 64-bit-mode x86 machine code → one `Instruction`.
 * Pure (bytes in, a plain object out), so it is tested with golden encodings on the host tier.
 *
 * It knows the handful of instructions the switch-tests guest uses, with every operand form
 * they take: REX prefixes, ModRM with register or memory operands (SIB, disp8/disp32,
 * RIP-relative), 32- and 64-bit operand sizes. Anything else — an operand-size or rep prefix, an
 * opcode not in the tables below — is an UnsupportedInstruction naming the bytes, never a guess.
 */
import { KvmtsError } from '@kvmts/core';

/** A general-purpose register by its encoding number: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8–15 r8–r15. */
export type Gpr = number;

export type Operand =
  | { readonly kind: 'reg'; readonly reg: Gpr }
  /** [base + index * scale + disp]; base 'rip' is RIP-relative (relative to the next instruction). */
  | { readonly kind: 'mem'; readonly base: Gpr | 'rip' | undefined; readonly index: Gpr | undefined; readonly scale: 1 | 2 | 4 | 8; readonly disp: number }
  /** Sign-extended from its encoding to 64 bits (as two's complement in a bigint, 0 ≤ value < 2^64). */
  | { readonly kind: 'imm'; readonly value: bigint };

/** Two-operand ALU operations and mov; 'cmp' is a 'sub' that writes only the flags. */
export type BinaryOp = 'add' | 'or' | 'and' | 'sub' | 'xor' | 'cmp' | 'mov';

export type Instruction = { readonly length: number } & (
  | { readonly op: BinaryOp; readonly width: 32 | 64; readonly dst: Operand; readonly src: Operand }
  | { readonly op: 'inc' | 'dec'; readonly width: 32 | 64; readonly dst: Operand }
  /** rel: displacement from the next instruction. cond: the condition code (low nibble of 0x70+cc). */
  | { readonly op: 'jcc'; readonly cond: number; readonly rel: number }
  | { readonly op: 'jmp' | 'loop'; readonly rel: number }
  /** out port, al/eax: port from an immediate, or from dx. */
  | { readonly op: 'out'; readonly size: 1 | 4; readonly port: number | 'dx' }
  | { readonly op: 'nop' | 'hlt' }
);

/** Bytes the decoder has no entry for (or an instruction longer than the bytes given). */
export class UnsupportedInstruction extends KvmtsError {
  constructor(
    readonly bytes: Uint8Array,
    readonly reason: string,
  ) {
    super(`cannot decode ${hex(bytes)}: ${reason}`);
  }
}

/** ALU opcodes by their first byte: `op r/m, r` (ModRM's reg is the source) and `op r, r/m`. */
const MODRM_BINARY: ReadonlyMap<number, { op: BinaryOp; regIsDst: boolean }> = new Map([
  [0x01, { op: 'add', regIsDst: false }],
  [0x09, { op: 'or', regIsDst: false }],
  [0x21, { op: 'and', regIsDst: false }],
  [0x29, { op: 'sub', regIsDst: false }],
  [0x31, { op: 'xor', regIsDst: false }],
  [0x39, { op: 'cmp', regIsDst: false }],
  [0x89, { op: 'mov', regIsDst: false }],
  [0x03, { op: 'add', regIsDst: true }],
  [0x0b, { op: 'or', regIsDst: true }],
  [0x23, { op: 'and', regIsDst: true }],
  [0x2b, { op: 'sub', regIsDst: true }],
  [0x33, { op: 'xor', regIsDst: true }],
  [0x3b, { op: 'cmp', regIsDst: true }],
  [0x8b, { op: 'mov', regIsDst: true }],
]);

/** Group 1 (0x81 imm32, 0x83 imm8): the operation is ModRM's reg field. adc (2) and sbb (3) are not implemented. */
const GROUP1: readonly (BinaryOp | undefined)[] = ['add', 'or', undefined, undefined, 'and', 'sub', 'xor', 'cmp'];

/** 0xFF's reg field: inc and dec only (call, jmp, push through 0xFF are not implemented). */
const GROUP5: readonly ('inc' | 'dec' | undefined)[] = ['inc', 'dec'];

/** `out` by opcode. */
const OUT_FORMS: ReadonlyMap<number, { size: 1 | 4; fromDx: boolean }> = new Map([
  [0xe6, { size: 1, fromDx: false }],
  [0xe7, { size: 4, fromDx: false }],
  [0xee, { size: 1, fromDx: true }],
  [0xef, { size: 4, fromDx: true }],
]);

const MAX_INSTRUCTION_BYTES = 15;
const TWO_64 = 1n << 64n;

/** Decode the instruction at the start of `code` (at most 15 bytes are looked at). */
export function decode(code: Uint8Array): Instruction {
  return new Cursor(code.subarray(0, MAX_INSTRUCTION_BYTES)).instruction();
}

class Cursor {
  private at = 0;
  private rex = 0;
  constructor(private readonly code: Uint8Array) {}

  instruction(): Instruction {
    let opcode = this.u8();
    if ((opcode & 0xf0) === 0x40) {
      this.rex = opcode;
      opcode = this.u8();
    }
    const width: 32 | 64 = this.rex & 0x08 ? 64 : 32;
    const binary = MODRM_BINARY.get(opcode);
    if (binary !== undefined) {
      const { reg, rm } = this.modrm();
      const r: Operand = { kind: 'reg', reg };
      return this.done({ op: binary.op, width, dst: binary.regIsDst ? r : rm, src: binary.regIsDst ? rm : r });
    }
    if (opcode === 0x81 || opcode === 0x83) {
      const { regField, rm } = this.modrm();
      const op = GROUP1[regField];
      if (op === undefined) throw this.unsupported(`group-1 operation /${regField} (adc/sbb) is not implemented`);
      const imm = opcode === 0x83 ? this.signed(1) : this.signed(4);
      return this.done({ op, width, dst: rm, src: { kind: 'imm', value: imm } });
    }
    if (opcode === 0xc7) {
      const { regField, rm } = this.modrm();
      if (regField !== 0) throw this.unsupported(`0xc7 /${regField} is not mov`);
      return this.done({ op: 'mov', width, dst: rm, src: { kind: 'imm', value: this.signed(4) } });
    }
    if (opcode >= 0xb8 && opcode <= 0xbf) {
      const reg = (opcode & 7) | (this.rex & 0x01 ? 8 : 0);
      // The one instruction with a 64-bit immediate (movabs); without REX.W it is imm32, zero-extended.
      const value = width === 64 ? this.unsigned(8) : this.unsigned(4);
      return this.done({ op: 'mov', width, dst: { kind: 'reg', reg }, src: { kind: 'imm', value } });
    }
    if (opcode === 0xff) {
      const { regField, rm } = this.modrm();
      const op = GROUP5[regField];
      if (op === undefined) throw this.unsupported(`0xff /${regField} is not implemented (only inc and dec)`);
      return this.done({ op, width, dst: rm });
    }
    if (opcode >= 0x70 && opcode <= 0x7f) return this.done({ op: 'jcc', cond: opcode & 0x0f, rel: Number(this.signedNumber(1)) });
    if (opcode === 0x0f) {
      const second = this.u8();
      if (second >= 0x80 && second <= 0x8f) return this.done({ op: 'jcc', cond: second & 0x0f, rel: this.signedNumber(4) });
      throw this.unsupported(`two-byte opcode 0x0f 0x${second.toString(16)} is not implemented`);
    }
    if (opcode === 0xeb) return this.done({ op: 'jmp', rel: this.signedNumber(1) });
    if (opcode === 0xe9) return this.done({ op: 'jmp', rel: this.signedNumber(4) });
    if (opcode === 0xe2) return this.done({ op: 'loop', rel: this.signedNumber(1) });
    const out = OUT_FORMS.get(opcode);
    if (out !== undefined) return this.done({ op: 'out', size: out.size, port: out.fromDx ? 'dx' : this.u8() });
    if (opcode === 0x90) return this.done({ op: 'nop' });
    if (opcode === 0xf4) return this.done({ op: 'hlt' });
    throw this.unsupported(`opcode 0x${opcode.toString(16)}${[0x66, 0x67, 0xf2, 0xf3].includes(opcode) ? ' (a prefix the interpreter does not implement)' : ''} is not implemented`);
  }

  private done<T extends object>(fields: T): T & { length: number } {
    return { ...fields, length: this.at };
  }

  /** ModRM (and SIB, displacement): the reg field (REX.R applied), its raw value, and the r/m operand. */
  private modrm(): { reg: Gpr; regField: number; rm: Operand } {
    const b = this.u8();
    const mod = b >> 6;
    const regField = (b >> 3) & 7;
    const reg = regField | (this.rex & 0x04 ? 8 : 0);
    const low = b & 7;
    if (mod === 3) return { reg, regField, rm: { kind: 'reg', reg: low | (this.rex & 0x01 ? 8 : 0) } };
    let base: Gpr | 'rip' | undefined;
    let index: Gpr | undefined;
    let scale: 1 | 2 | 4 | 8 = 1;
    if (low === 4) {
      const sib = this.u8();
      scale = (1 << (sib >> 6)) as 1 | 2 | 4 | 8;
      const idx = ((sib >> 3) & 7) | (this.rex & 0x02 ? 8 : 0);
      index = idx === 4 ? undefined : idx; // rsp cannot be an index: 4 (without REX.X) means none
      const sibBase = sib & 7;
      base = sibBase === 5 && mod === 0 ? undefined : sibBase | (this.rex & 0x01 ? 8 : 0);
      if (base === undefined) return { reg, regField, rm: { kind: 'mem', base, index, scale, disp: this.signedNumber(4) } };
    } else if (low === 5 && mod === 0) {
      return { reg, regField, rm: { kind: 'mem', base: 'rip', index: undefined, scale, disp: this.signedNumber(4) } };
    } else {
      base = low | (this.rex & 0x01 ? 8 : 0);
    }
    const disp = mod === 1 ? this.signedNumber(1) : mod === 2 ? this.signedNumber(4) : 0;
    return { reg, regField, rm: { kind: 'mem', base, index, scale, disp } };
  }

  private u8(): number {
    if (this.at >= this.code.length) throw this.unsupported(`the instruction runs past the ${this.code.length} bytes given`);
    return this.code[this.at++];
  }

  private unsigned(bytes: 1 | 4 | 8): bigint {
    let v = 0n;
    for (let i = 0; i < bytes; i++) v |= BigInt(this.u8()) << BigInt(8 * i);
    return v;
  }

  /** A little-endian immediate sign-extended to 64 bits, as an unsigned bigint. */
  private signed(bytes: 1 | 4): bigint {
    const v = this.signedNumber(bytes);
    return v < 0 ? BigInt(v) + TWO_64 : BigInt(v);
  }

  private signedNumber(bytes: 1 | 4): number {
    const v = Number(this.unsigned(bytes));
    const bits = 8 * bytes;
    return v >= 2 ** (bits - 1) ? v - 2 ** bits : v;
  }

  private unsupported(reason: string): UnsupportedInstruction {
    return new UnsupportedInstruction(this.code.slice(0, Math.max(this.at, 1)), reason);
  }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}
