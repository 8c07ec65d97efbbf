import { ConfigError, NamedRangeSet, describeRange, formatRange } from '@kvmts/core';

function errorOf(f: () => void): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('NamedRangeSet', () => {
  it('formats ranges inclusively, in hex', () => {
    expect(formatRange(0x8000, 0x1000)).toBe('0x8000..0x8fff');
    expect(describeRange({ name: 'page tables', base: 0x10000, size: 0x6000 })).toBe('page tables (0x10000..0x15fff)');
  });

  it('keeps disjoint ranges in address order, whatever order they came in', () => {
    const set = new NamedRangeSet('guest memory');
    set.add({ name: 'c', base: 0x3000, size: 0x1000 });
    set.add({ name: 'a', base: 0x0, size: 0x1000 });
    set.add({ name: 'b', base: 0x1000, size: 0x2000 }); // touches both neighbours, overlaps neither
    expect(set.ranges().map((r) => r.name)).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['inside', 0x1800, 0x10],
    ['covering', 0x0, 0x10000],
    ['straddling the start', 0xff0, 0x20],
    ['straddling the end', 0x1ff0, 0x20],
    ['one byte at the last address', 0x1fff, 1],
  ])('an overlap (%s) is a ConfigError naming both ranges and the setting', (_, base, size) => {
    const set = new NamedRangeSet('guest memory');
    set.add({ name: 'GDT', base: 0x500, size: 0x40 });
    set.add({ name: 'page tables', base: 0x1000, size: 0x1000 });
    set.add({ name: 'image', base: 0x4000, size: 0x100 });
    const e = errorOf(() => set.add({ name: 'boot.data[0]', base, size }, 'boot.data[0].gpa'));
    expect(e.setting).toBe('boot.data[0].gpa');
    expect(e.message).toMatch(new RegExp(`^boot\\.data\\[0\\]\\.gpa: boot\\.data\\[0\\] \\(${formatRange(base, size)}\\) overlaps (page tables \\(0x1000\\.\\.0x1fff\\)|GDT \\(0x500\\.\\.0x53f\\)|image \\(0x4000\\.\\.0x40ff\\)) in guest memory$`));
    expect(set.ranges()).toHaveLength(3); // nothing was added
  });

  it('names the exact neighbour hit', () => {
    const set = new NamedRangeSet('the pio address space', 0x10000);
    set.add({ name: "device 'com1'", base: 0x3f8, size: 8 });
    set.add({ name: "device 'com2'", base: 0x2f8, size: 8 });
    expect(errorOf(() => set.add({ name: "device 'x'", base: 0x2fc, size: 2 })).message).toBe("device 'x': device 'x' (0x2fc..0x2fd) overlaps device 'com2' (0x2f8..0x2ff) in the pio address space");
    expect(set.overlapping(0x300, 0xf8)).toBeUndefined();
    expect(set.overlapping(0x300, 0xf9)?.name).toBe("device 'com1'");
  });

  it('refuses ranges past the limit and malformed numbers, and ignores empty ranges', () => {
    const set = new NamedRangeSet('the pio address space', 0x10000);
    expect(errorOf(() => set.add({ name: 'w', base: 0xffff, size: 2 })).message).toBe('w: w (0xffff..0x10000) ends beyond the pio address space, which stops at 0xffff');
    expect(errorOf(() => set.add({ name: 'n', base: Number.NaN, size: 1 })).message).toBe('n: n: base NaN is not a non-negative integer');
    expect(errorOf(() => set.add({ name: 's', base: 0, size: -1 })).message).toBe('s: s: size -1 is not a non-negative integer');
    set.add({ name: 'empty', base: 0x10, size: 0 });
    expect(set.ranges()).toEqual([]);
  });

  it('remove() frees the ranges a predicate selects', () => {
    const set = new NamedRangeSet('mmio');
    set.add({ name: 'a', base: 0, size: 0x10 });
    set.add({ name: 'b', base: 0x10, size: 0x10 });
    set.remove((r) => r.name === 'a');
    set.add({ name: 'c', base: 0x8, size: 0x8 });
    expect(set.ranges().map((r) => r.name)).toEqual(['c', 'b']);
  });
});
