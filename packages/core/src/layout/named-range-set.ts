/**
 * A set of named, non-overlapping address ranges: the one overlap check behind every place a
 * machine lays things out in an address space — memory regions, device ranges on a bus, the boot
 * structures a loader writes (page tables, GDT, stacks, images, FDT, initrd). Adding a range that
 * overlaps one already there is a ConfigError naming both ranges, so nothing is ever silently
 * written over something else.
 *
 * Addresses are numbers (guest-physical addresses and port numbers are safe integers in kvmts).
 * Ranges are kept sorted, so an add is a binary search plus an insert.
 */
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';

/** A half-open range [base, base + size) with the name an error message uses for it. */
export interface NamedRange {
  /** What the range is, as a user recognises it: 'page tables', "device 'uart0'", 'boot.image'. */
  readonly name: string;
  readonly base: number;
  readonly size: number;
}

/** `0x8000..0x8fff` — the inclusive form every overlap message uses. */
export function formatRange(base: number, size: number): string {
  return `0x${base.toString(16)}..0x${(base + size - 1).toString(16)}`;
}

/** `page tables (0x10000..0x15fff)`. */
export function describeRange(r: NamedRange): string {
  return `${r.name} (${formatRange(r.base, r.size)})`;
}

export class NamedRangeSet {
  private readonly sorted: NamedRange[] = [];

  /**
   * @param space what the ranges live in, for messages: 'guest memory', 'the pio bus'.
   * @param limit addresses must be below this (default: any safe integer).
   */
  constructor(
    readonly space: string,
    private readonly limit = Number.MAX_SAFE_INTEGER,
  ) {}

  /**
   * Add `range`, or throw a ConfigError for `setting` (default: the range's name) when it is
   * malformed, exceeds the limit or overlaps a range already in the set — the message names both.
   * An empty range (size 0) occupies nothing and is not recorded.
   */
  add(range: NamedRange, setting: string = range.name): void {
    const { base, size } = range;
    if (!Number.isSafeInteger(base) || base < 0) throw new ConfigError(setting, `${range.name}: base ${describeValue(base)} is not a non-negative integer`);
    if (!Number.isSafeInteger(size) || size < 0) throw new ConfigError(setting, `${range.name}: size ${describeValue(size)} is not a non-negative integer`);
    if (size === 0) return;
    if (base + size > this.limit) throw new ConfigError(setting, `${describeRange(range)} ends beyond ${this.space}, which stops at 0x${(this.limit - 1).toString(16)}`);
    const other = this.overlapping(base, size);
    if (other) throw new ConfigError(setting, `${describeRange(range)} overlaps ${describeRange(other)} in ${this.space}`);
    this.sorted.splice(this.insertionIndex(base), 0, { name: range.name, base, size });
  }

  /** The first range in the set that shares a byte with [base, base + size), if any. */
  overlapping(base: number, size: number): NamedRange | undefined {
    if (size <= 0) return undefined;
    const end = base + size;
    // The only candidates are the last range starting before `end` and those before it that reach past `base`;
    // ranges never overlap each other, so the one just before the insertion point is enough.
    const i = this.insertionIndex(end) - 1;
    const r = this.sorted[i];
    return r !== undefined && r.base + r.size > base ? r : undefined;
  }

  /** Remove every range `predicate` accepts (a device leaving a bus). */
  remove(predicate: (r: NamedRange) => boolean): void {
    for (let i = this.sorted.length - 1; i >= 0; i--) if (predicate(this.sorted[i])) this.sorted.splice(i, 1);
  }

  /** The ranges in address order. */
  ranges(): readonly NamedRange[] {
    return this.sorted;
  }

  /** Index of the first range whose base is ≥ `address`. */
  private insertionIndex(address: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid].base < address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
