/**
 * The example interpreter's decoder (examples/interpreter-cpu/decode.ts) against GNU as: each
 * row is an instruction, the bytes `as --64` gave for it, and the decoded form.
 */
import { decode, UnsupportedInstruction, type Instruction, type Operand } from '../examples/interpreter-cpu';

const reg = (r: number): Operand => ({ kind: 'reg', reg: r });
const imm = (v: bigint): Operand => ({ kind: 'imm', value: v });
const mem = (base: number | 'rip' | undefined, disp: number, index?: number, scale: 1 | 2 | 4 | 8 = 1): Operand => ({ kind: 'mem', base, index, scale, disp });
const [RAX, RCX, RDX, RBX, RSP, , , RDI] = [0, 1, 2, 3, 4, 5, 6, 7];
const [R9, R10, R11, R12, R13, R15] = [9, 10, 11, 12, 13, 15];
const NEG = (v: bigint) => (1n << 64n) + v;

const GOLDEN: [string, string, Instruction][] = [
  ['add rax, rbx', '48 01 d8', { op: 'add', width: 64, dst: reg(RAX), src: reg(RBX), length: 3 }],
  ['add ebx, ecx', '01 cb', { op: 'add', width: 32, dst: reg(RBX), src: reg(RCX), length: 2 }],
  ['mov r11, [rdi + 8]', '4c 8b 5f 08', { op: 'mov', width: 64, dst: reg(R11), src: mem(RDI, 8), length: 4 }],
  ['sub rax, [rdi + 0x12345678]', '48 2b 87 78 56 34 12', { op: 'sub', width: 64, dst: reg(RAX), src: mem(RDI, 0x12345678), length: 7 }],
  ['xor [rsp], r15', '4c 31 3c 24', { op: 'xor', width: 64, dst: mem(RSP, 0), src: reg(R15), length: 4 }],
  ['mov eax, [rip + 0x10]', '8b 05 10 00 00 00', { op: 'mov', width: 32, dst: reg(RAX), src: mem('rip', 0x10), length: 6 }],
  ['cmp rax, [rbx + rcx*8 - 4]', '48 3b 44 cb fc', { op: 'cmp', width: 64, dst: reg(RAX), src: mem(RBX, -4, RCX, 8), length: 5 }],
  ['mov rax, [r12 + r13*2 + 0x80]', '4b 8b 84 6c 80 00 00 00', { op: 'mov', width: 64, dst: reg(RAX), src: mem(R12, 0x80, R13, 2), length: 8 }],
  ['mov [0x1000], rax', '48 89 04 25 00 10 00 00', { op: 'mov', width: 64, dst: mem(undefined, 0x1000), src: reg(RAX), length: 8 }],
  ['add r10, 3', '49 83 c2 03', { op: 'add', width: 64, dst: reg(R10), src: imm(3n), length: 4 }],
  ['sub r10, 0x1234', '49 81 ea 34 12 00 00', { op: 'sub', width: 64, dst: reg(R10), src: imm(0x1234n), length: 7 }],
  ['and ecx, -1', '83 e1 ff', { op: 'and', width: 32, dst: reg(RCX), src: imm(NEG(-1n)), length: 3 }],
  ['or rdx, 0x7f', '48 83 ca 7f', { op: 'or', width: 64, dst: reg(RDX), src: imm(0x7fn), length: 4 }],
  ['mov rcx, -2', '48 c7 c1 fe ff ff ff', { op: 'mov', width: 64, dst: reg(RCX), src: imm(NEG(-2n)), length: 7 }],
  ['mov dword [rdi], 5', 'c7 07 05 00 00 00', { op: 'mov', width: 32, dst: mem(RDI, 0), src: imm(5n), length: 6 }],
  ['movabs r9, 0x123456789abcdef0', '49 b9 f0 de bc 9a 78 56 34 12', { op: 'mov', width: 64, dst: reg(R9), src: imm(0x123456789abcdef0n), length: 10 }],
  ['mov r9d, 0xdeadbeef', '41 b9 ef be ad de', { op: 'mov', width: 32, dst: reg(R9), src: imm(0xdeadbeefn), length: 6 }],
  ['inc r9', '49 ff c1', { op: 'inc', width: 64, dst: reg(R9), length: 3 }],
  ['dec dword [rax]', 'ff 08', { op: 'dec', width: 32, dst: mem(RAX, 0), length: 2 }],
  ['jne +0xe', '75 0e', { op: 'jcc', cond: 5, rel: 0x0e, length: 2 }],
  ['jl -0x22', '7c de', { op: 'jcc', cond: 0xc, rel: -0x22, length: 2 }],
  ['je rel32', '0f 84 fa 0f 00 00', { op: 'jcc', cond: 4, rel: 0xffa, length: 6 }],
  ['jmp .', 'eb fe', { op: 'jmp', rel: -2, length: 2 }],
  ['jmp rel32', 'e9 fb 01 00 00', { op: 'jmp', rel: 0x1fb, length: 5 }],
  ['loop -0x3b', 'e2 c5', { op: 'loop', rel: -0x3b, length: 2 }],
  ['out 0xf8, eax', 'e7 f8', { op: 'out', size: 4, port: 0xf8, length: 2 }],
  ['out 0xf4, al', 'e6 f4', { op: 'out', size: 1, port: 0xf4, length: 2 }],
  ['out dx, al', 'ee', { op: 'out', size: 1, port: 'dx', length: 1 }],
  ['out dx, eax', 'ef', { op: 'out', size: 4, port: 'dx', length: 1 }],
  ['nop', '90', { op: 'nop', length: 1 }],
  ['hlt', 'f4', { op: 'hlt', length: 1 }],
];

const bytes = (hex: string): Uint8Array => Uint8Array.from(hex.split(' ').map((b) => parseInt(b, 16)));

describe('interpreter decoder', () => {
  it.each(GOLDEN)('%s  (%s)', (_text, hex, expected) => {
    expect(decode(bytes(hex))).toEqual(expected);
  });

  it('looks at one instruction only: trailing bytes are ignored', () => {
    expect(decode(bytes('48 01 d8 ff ff ff'))).toEqual(GOLDEN[0][2]);
  });

  it.each([
    ['66 01 d8', 'cannot decode 66: opcode 0x66 (a prefix the interpreter does not implement) is not implemented'],
    ['48 11 d8', 'cannot decode 48 11: opcode 0x11 is not implemented'],
    ['48 83 d0 01', 'cannot decode 48 83 d0: group-1 operation /2 (adc/sbb) is not implemented'],
    ['ff d0', 'cannot decode ff d0: 0xff /2 is not implemented (only inc and dec)'],
    ['0f a2', 'cannot decode 0f a2: two-byte opcode 0x0f 0xa2 is not implemented'],
    ['48 b8 01 02', 'cannot decode 48 b8 01 02: the instruction runs past the 4 bytes given'],
  ])('%s is an UnsupportedInstruction naming the bytes and why', (hex, message) => {
    expect(() => decode(bytes(hex))).toThrow(UnsupportedInstruction);
    expect(() => decode(bytes(hex))).toThrow(message);
  });
});
