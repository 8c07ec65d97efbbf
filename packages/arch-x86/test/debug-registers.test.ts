/**
 * DR7 encoding for KVM_SET_GUEST_DEBUG and DR6 decoding of KVM_EXIT_DEBUG, against values worked
 * out by hand from the SDM's DR7 layout (and equal to what QEMU's gdbstub computes for the same
 * breakpoints): G bit, R/W and LEN per slot, GE and bit 10 when any slot is on.
 */
import { ConfigError, type HwDebugPoint } from '@kvmts/core';
import { checkX86Watchpoint, decodeDr6, encodeDebugRegisters } from '@kvmts/arch-x86';

const bp = (address: bigint): HwDebugPoint => ({ type: 'breakpoint', address });
const watch = (address: bigint, length: number, kind: 'write' | 'read-write'): HwDebugPoint => ({ type: 'watchpoint', address, length, kind });

describe('x86 debug registers', () => {
  it('no slot in use: DR7 is 0 (not even GE)', () => {
    expect(encodeDebugRegisters([undefined, undefined, undefined, undefined])).toEqual({ addresses: [0n, 0n, 0n, 0n], dr7: 0n });
  });

  it('an instruction breakpoint in slot 0: G0, R/W 00, LEN 00 → 0x602', () => {
    expect(encodeDebugRegisters([bp(0xffff_8000_0000_1000n)])).toEqual({ addresses: [0xffff_8000_0000_1000n, 0n, 0n, 0n], dr7: 0x602n });
  });

  it('golden DR7 for every length and kind, one slot at a time', () => {
    const cases: [number, HwDebugPoint, bigint][] = [
      [1, watch(0x2000n, 4, 'write'), 0x00d0_0608n], // G1, RW1 = 01, LEN1 = 11
      [2, watch(0x2002n, 2, 'write'), 0x0500_0620n], // G2, RW2 = 01, LEN2 = 01
      [3, watch(0x2008n, 8, 'read-write'), 0xb000_0680n], // G3, RW3 = 11, LEN3 = 10
      [0, watch(0x2001n, 1, 'read-write'), 0x0003_0602n], // G0, RW0 = 11, LEN0 = 00
    ];
    for (const [slot, point, dr7] of cases) {
      const slots: (HwDebugPoint | undefined)[] = [undefined, undefined, undefined, undefined];
      slots[slot] = point;
      const image = encodeDebugRegisters(slots);
      expect([slot, image.dr7]).toEqual([slot, dr7]);
      expect(image.addresses[slot]).toBe(point.address);
    }
  });

  it('all four slots at once OR their fields; a skipped slot is left out entirely', () => {
    const slots = [bp(0x1000n), watch(0x2000n, 4, 'write'), watch(0x2002n, 2, 'write'), watch(0x2008n, 8, 'read-write')];
    expect(encodeDebugRegisters(slots).dr7).toBe(0xb5d0_06aan);
    const skipped = encodeDebugRegisters(slots, 1);
    expect(skipped.dr7).toBe(0xb500_06a2n);
    expect(skipped.addresses).toEqual([0x1000n, 0n, 0x2002n, 0x2008n]);
  });

  it('watchpoints x86 cannot express are ConfigErrors naming the setting', () => {
    expect(() => checkX86Watchpoint(0x1000n, 4, 'read')).toThrow(/no read-only watchpoint/);
    expect(() => checkX86Watchpoint(0x1000n, 3, 'write')).toThrow('guestDebug.watchpoint.length: x86 watches 1, 2, 4 or 8 bytes, not 3');
    expect(() => checkX86Watchpoint(0x1004n, 8, 'write')).toThrow('guestDebug.watchpoint.address: a 8-byte x86 watchpoint must be 8-byte aligned: 0x1004 is not');
    expect(() => checkX86Watchpoint(0x1001n, 2, 'read-write')).toThrow(ConfigError);
    expect(() => checkX86Watchpoint(0x1001n, 1, 'read-write')).not.toThrow();
    expect(() => encodeDebugRegisters([watch(0x1002n, 4, 'write')])).toThrow(ConfigError);
    expect(() => encodeDebugRegisters([undefined, undefined, undefined, undefined, bp(0n)])).toThrow(/4 debug slots/);
  });

  it('DR6: the lowest enabled slot whose B bit is set, and BS', () => {
    const on = [true, true, true, true];
    expect(decodeDr6(0xffff_4ff0n, on)).toEqual({ slot: undefined, singleStep: true }); // BS | active-low bits
    expect(decodeDr6(0xffff_0ff4n, on)).toEqual({ slot: 2, singleStep: false });
    expect(decodeDr6(0xffff_0ff6n, on)).toEqual({ slot: 1, singleStep: false });
    expect(decodeDr6(0xffff_0ff6n, [true, false, true, true])).toEqual({ slot: 2, singleStep: false }); // B1 of a disabled slot is stale
    expect(decodeDr6(0xffff_4ff1n, on)).toEqual({ slot: 0, singleStep: true });
  });
});
