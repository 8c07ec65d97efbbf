/**
 * The cross-arch guest-debug contract: hardware slots shared by breakpoints and watchpoints,
 * first free slot first, re-adding a held point is harmless, and running out or removing what
 * is not set is a ConfigError that says what holds the slots.
 */
import { ConfigError, HwDebugSlots, isGuestDebugCapable, type HwDebugPoint } from '@kvmts/core';

const bp = (address: bigint): HwDebugPoint => ({ type: 'breakpoint', address });
const watch = (address: bigint, length: number, kind: 'write' | 'read-write' = 'write'): HwDebugPoint => ({ type: 'watchpoint', address, length, kind });

describe('HwDebugSlots', () => {
  it('gives breakpoints and watchpoints the first free slot and reuses freed ones', () => {
    const slots = new HwDebugSlots(4);
    expect(slots.claim(bp(0x1000n))).toBe(0);
    expect(slots.claim(watch(0x2000n, 8))).toBe(1);
    expect(slots.claim(bp(0x3000n))).toBe(2);
    expect(slots.release(watch(0x2000n, 8))).toBe(1);
    expect(slots.claim(watch(0x4000n, 4, 'read-write'))).toBe(1);
    expect(slots.list()).toEqual([bp(0x1000n), watch(0x4000n, 4, 'read-write'), bp(0x3000n), undefined]);
  });

  it('claiming a point already held returns its slot without taking another', () => {
    const slots = new HwDebugSlots(2);
    expect(slots.claim(bp(0x1000n))).toBe(0);
    expect(slots.claim(bp(0x1000n))).toBe(0);
    expect(slots.claim(watch(0x1000n, 8))).toBe(1); // same address, different point
    expect(slots.indexOf(watch(0x1000n, 8, 'read-write'))).toBe(-1);
  });

  it('a claim past the last slot is a ConfigError naming the limit and the points in use', () => {
    const slots = new HwDebugSlots(2);
    slots.claim(bp(0x1000n));
    slots.claim(watch(0x2000n, 4));
    let error: unknown;
    try {
      slots.claim(watch(0x3000n, 2, 'read-write'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('guestDebug.watchpoint');
    expect((error as Error).message).toBe(
      'guestDebug.watchpoint: cannot add read-write watchpoint 0x3000/2: all 2 hardware debug slots are in use (0: breakpoint 0x1000, 1: write watchpoint 0x2000/4); remove one first or use a software breakpoint',
    );
  });

  it('releasing a point that is not set is a ConfigError; clear frees everything', () => {
    const slots = new HwDebugSlots(4);
    slots.claim(bp(0x1000n));
    expect(() => slots.release(bp(0x1001n))).toThrow('guestDebug.hwBreakpoint: no breakpoint 0x1001 is set');
    slots.clear();
    expect(slots.list()).toEqual([undefined, undefined, undefined, undefined]);
    expect(() => new HwDebugSlots(-1)).toThrow(ConfigError);
  });

  it('isGuestDebugCapable tells a CPU that offers guest debug from one that does not', () => {
    expect(isGuestDebugCapable({ guestDebug: () => undefined, detachGuestDebug: () => undefined })).toBe(true);
    expect(isGuestDebugCapable({ runLoop: () => undefined })).toBe(false);
  });
});
