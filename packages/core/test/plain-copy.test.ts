/**
 * copySameShape and copyPlainData (cpu/thread-context.ts), the restore path's replacements for a
 * structuredClone per state group: the same result as structuredClone, nothing shared with the
 * source, and — for copySameShape — exactly assertSameShape's checks and errors.
 */
import { ConfigError, assertSameShape, copyPlainData, copySameShape } from '@kvmts/core';

const template = { rip: 0n, flags: 0, seg: { base: 0n, present: false, name: '' }, pdptrs: [0n, 0n] };
const good = { rip: 0x1000n, flags: 2, seg: { base: 0xb8000n, present: true, name: 'cs' }, pdptrs: [1n, 2n] };

function errorOf(f: () => unknown): { setting: string; message: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return { setting: e.setting, message: e.message };
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('copySameShape', () => {
  it('returns a deep copy equal to the data that shares no object with it', () => {
    const copy = copySameShape(template, good, 'regs');
    expect(copy).toEqual(good);
    expect(copy).not.toBe(good);
    expect(copy.seg).not.toBe(good.seg);
    expect(copy.pdptrs).not.toBe(good.pdptrs);
    copy.seg.base = 0n;
    expect(good.seg.base).toBe(0xb8000n);
  });

  it.each([
    ['a leaf of another type', { ...good, rip: 5 }, 'regs.rip'],
    ['a missing field', { rip: 1n, flags: 0, pdptrs: [0n, 0n] }, 'regs.seg'],
    ['an unknown field', { ...good, seg: { ...good.seg, limit: 1 } }, 'regs.seg.limit'],
    ['an array of another length', { ...good, pdptrs: [0n] }, 'regs.pdptrs'],
    ['an array entry of another type', { ...good, pdptrs: [0n, 'x'] }, 'regs.pdptrs[1]'],
    ['null for an object', { ...good, seg: null }, 'regs.seg'],
    ['not an object at all', 7, 'regs'],
  ])('%s: the same ConfigError as assertSameShape, naming %s', (_what, data, setting) => {
    const copied = errorOf(() => copySameShape(template, data, 'regs'));
    expect(copied).toEqual(errorOf(() => assertSameShape(template, data, 'regs')));
    expect(copied.setting).toBe(setting);
  });
});

describe('copyPlainData', () => {
  it('gives what structuredClone gives for plain data (bigints, bytes, nested lists), sharing nothing', () => {
    const value = { a: [1, 'two', null, true, { b: 3n }], bytes: new Uint8Array([1, 2, 3]), words: new Uint32Array([7, 8]), nested: { list: [{ index: 0x10, value: 1n << 63n }] } };
    const copy = copyPlainData(value);
    expect(copy).toEqual(structuredClone(value));
    expect(copy.bytes).toBeInstanceOf(Uint8Array);
    expect(copy.words).toBeInstanceOf(Uint32Array);
    copy.bytes[0] = 9;
    copy.nested.list[0].value = 0n;
    (copy.a[4] as { b: bigint }).b = 0n;
    expect(value.bytes[0]).toBe(1);
    expect(value.nested.list[0].value).toBe(1n << 63n);
    expect((value.a[4] as { b: bigint }).b).toBe(3n);
  });

  it('copies a view of part of a buffer as just its bytes, and a null-prototype object as a plain one', () => {
    const buffer = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const copy = copyPlainData({ view: buffer.subarray(2, 4) });
    expect([...copy.view]).toEqual([2, 3]);
    expect(copy.view.buffer.byteLength).toBe(2);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { x: 1n });
    expect(copyPlainData(bare)).toEqual({ x: 1n });
  });

  it('copies a Node Buffer and other typed arrays into memory of their own, keeping their kind', () => {
    const buffer = Buffer.from([1, 2, 3]);
    const wide = new BigUint64Array([1n, 2n]);
    const copy = copyPlainData({ buffer, wide });
    copy.buffer[0] = 9;
    copy.wide[0] = 9n;
    expect([buffer[0], wide[0]]).toEqual([1, 1n]);
    expect([Buffer.isBuffer(copy.buffer), copy.wide instanceof BigUint64Array]).toEqual([true, true]);
  });

  it('leaves what is not plain data to structuredClone (a Map stays a Map, a Date a Date)', () => {
    const map = new Map([[1, { v: 2n }]]);
    const copy = copyPlainData({ map, when: new Date(0) });
    // structuredClone makes them in Node's own realm, not jest's: compare by tag.
    expect(Object.prototype.toString.call(copy.map)).toBe('[object Map]');
    expect(copy.map).not.toBe(map);
    expect(copy.map.get(1)).toEqual({ v: 2n });
    expect(Object.prototype.toString.call(copy.when)).toBe('[object Date]');
    expect(copy.when.getTime()).toBe(0);
  });
});
