/**
 * The example interpreter's arithmetic (examples/interpreter-cpu/alu.ts): results and status
 * flags for values whose flags the x86 manuals fix, at both operand widths, and every jcc
 * condition.
 */
import { Flag, STATUS_FLAGS, alu, conditionHolds, type AluOp } from '../examples/interpreter-cpu';

const { CF, PF, AF, ZF, SF, OF } = Flag;
const M64 = (1n << 64n) - 1n;

const GOLDEN: [AluOp, 32 | 64, bigint, bigint, bigint, bigint][] = [
  // op, width, a, b → value, flags
  ['add', 32, 0xffff_ffffn, 1n, 0n, CF | PF | AF | ZF],
  ['add', 32, 0x7fff_ffffn, 1n, 0x8000_0000n, PF | AF | SF | OF],
  ['add', 64, 0x7fff_ffff_ffff_ffffn, 1n, 1n << 63n, PF | AF | SF | OF],
  ['add', 64, M64, M64, M64 - 1n, CF | AF | SF],
  ['add', 64, 1n, 2n, 3n, PF],
  ['sub', 64, 0n, 1n, M64, CF | PF | AF | SF],
  ['sub', 32, 0x8000_0000n, 1n, 0x7fff_ffffn, PF | AF | OF],
  ['sub', 64, 5n, 5n, 0n, PF | ZF],
  ['sub', 64, 0x10n, 1n, 0xfn, PF | AF],
  ['and', 64, 0xf0n, 0x0fn, 0n, PF | ZF],
  ['or', 32, 0x8000_0000n, 1n, 0x8000_0001n, SF],
  ['xor', 64, M64, 0x0fn, M64 - 0x0fn, PF | SF],
  ['inc', 64, M64, 0n, 0n, PF | AF | ZF],
  ['inc', 32, 0x7fff_ffffn, 0n, 0x8000_0000n, PF | AF | SF | OF],
  ['dec', 64, 0n, 0n, M64, PF | AF | SF],
  ['dec', 64, 1n << 63n, 0n, (1n << 63n) - 1n, PF | AF | OF],
];

describe('interpreter arithmetic', () => {
  it.each(GOLDEN)('%s/%i 0x%s, 0x%s', (op, width, a, b, value, flags) => {
    const r = alu(op, width, a, b);
    expect(r.value).toBe(value);
    expect(r.flags).toBe(flags);
  });

  it('32-bit operands: the upper halves of the inputs are ignored', () => {
    expect(alu('add', 32, 0x1_0000_0002n, 0xff_0000_0003n).value).toBe(5n);
  });

  it('inc and dec leave CF as it was; every other operation replaces all six status flags', () => {
    expect(alu('inc', 64, 1n, 0n).defined).toBe(STATUS_FLAGS & ~CF);
    expect(alu('dec', 64, 1n, 0n).defined).toBe(STATUS_FLAGS & ~CF);
    for (const op of ['add', 'sub', 'and', 'or', 'xor'] as const) expect(alu(op, 64, 1n, 1n).defined).toBe(STATUS_FLAGS);
  });

  it('jcc conditions 0..15 under chosen flags', () => {
    const table = (rflags: bigint) => Array.from({ length: 16 }, (_, cc) => (conditionHolds(cc, rflags) ? 1 : 0)).join('');
    //                cc: O NO B AE E NE BE A S NS P NP L GE LE G
    expect(table(0n)).toBe('0101010101010101');
    expect(table(CF)).toBe('0110011001010101');
    expect(table(ZF)).toBe('0101101001010110');
    expect(table(SF)).toBe('0101010110011010');
    expect(table(SF | OF)).toBe('1001010110010101');
    expect(table(OF)).toBe('1001010101011010');
    expect(table(PF)).toBe('0101010101100101');
  });
});
