import type { AccessSize, Device, HighWord } from './device';
import type { AddressRange } from './address-range';
import { ConfigError } from '../errors/errors';
import { NamedRangeSet } from '../layout/named-range-set';

/** What a bus does with an access no device claims. */
export type UnclaimedPolicy = 'ignore' | 'error';

/** Result of a bus access that found no device: the caller turns it into a guest error or ignores it. */
export const UNCLAIMED = -1;

interface Mapping {
  readonly base: number;
  readonly end: number; // exclusive
  readonly device: Device;
}

/** An address space an architecture declares: its name (the key in device placements) and size. */
export interface AddressSpace {
  /** e.g. 'mmio' (every arch), 'pio' (x86 port I/O). */
  readonly name: string;
  /** Addresses are below this. */
  readonly limit: number;
}

/** Guest-physical MMIO: every KVM architecture has it (KVM_EXIT_MMIO is arch-neutral). */
export const MMIO_SPACE: AddressSpace = { name: 'mmio', limit: Number.MAX_SAFE_INTEGER };

/**
 * An address-range map from a guest access to a Device, one per address space (MMIO; x86 adds
 * port I/O). Lookup is a binary search over sorted, non-overlapping ranges with a one-entry
 * cache for the last hit (consecutive exits usually go to the same device). Nothing is
 * allocated per access.
 */
export class AddressBus {
  private mappings: Mapping[] = [];
  private last: Mapping | undefined;
  /** Out-parameter reused for 8-byte reads, so reads never allocate. */
  readonly high: HighWord = { high: 0 };
  /** Accesses that found no device, counted for statistics. */
  unclaimedCount = 0;

  private readonly busName: string;
  private readonly addressLimit: number;
  /** The claimed ranges by device name: the overlap check (lookups use `mappings`). */
  private readonly claimed: NamedRangeSet;

  constructor(readonly space: AddressSpace) {
    this.busName = space.name;
    this.addressLimit = space.limit;
    this.claimed = new NamedRangeSet(`the ${space.name} address space`, space.limit);
  }

  /** Attach `device` at `range`. Overlaps with an existing range are configuration errors. */
  attach(range: AddressRange, device: Device): void {
    const { base, size } = range;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new ConfigError(`${this.busName}[${device.name}]`, `invalid range base=${base} size=${size}`);
    }
    const end = base + size;
    if (end > this.addressLimit) {
      throw new ConfigError(`${this.busName}[${device.name}]`, `range 0x${base.toString(16)}+0x${size.toString(16)} exceeds the bus limit 0x${this.addressLimit.toString(16)}`);
    }
    this.claimed.add({ name: `device '${device.name}'`, base, size }, `${this.busName}[${device.name}]`);
    this.mappings.push({ base, end, device });
    this.mappings.sort((a, b) => a.base - b.base);
    this.last = undefined;
  }

  /** Remove every range of `device`. */
  detach(device: Device): void {
    this.mappings = this.mappings.filter((m) => m.device !== device);
    this.claimed.remove((r) => !this.mappings.some((m) => m.base === r.base));
    this.last = undefined;
  }

  /** Devices in address order, for dumps. */
  ranges(): ReadonlyArray<{ base: number; size: number; device: Device }> {
    return this.mappings.map((m) => ({ base: m.base, size: m.end - m.base, device: m.device }));
  }

  private find(addr: number): Mapping | undefined {
    const last = this.last;
    if (last !== undefined && addr >= last.base && addr < last.end) return last;
    const ms = this.mappings;
    let lo = 0;
    let hi = ms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = ms[mid];
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else {
        this.last = m;
        return m;
      }
    }
    return undefined;
  }

  /**
   * Read `size` bytes at `addr`. Returns the low 32 bits as an unsigned number (high half in
   * `this.high.high` for 8-byte reads), or UNCLAIMED when no device is there (then
   * `this.high.high` is also set to all-ones so callers can fill the access with 0xff bytes).
   */
  read(addr: number, size: AccessSize): number {
    const m = this.find(addr);
    if (m === undefined) {
      this.unclaimedCount++;
      this.high.high = 0xffffffff;
      return UNCLAIMED;
    }
    this.high.high = 0;
    return m.device.read(addr - m.base, size, this.high) >>> 0;
  }

  /** Write; returns false when no device claims `addr`. */
  write(addr: number, size: AccessSize, value: number, valueHigh: number): boolean {
    const m = this.find(addr);
    if (m === undefined) {
      this.unclaimedCount++;
      return false;
    }
    m.device.write(addr - m.base, size, value, valueHigh);
    return true;
  }
}

/**
 * The buses of one vCPU thread, by address-space name. `mmio` is always there; an arch plugin
 * adds its own spaces (ArchPlugin.addressSpaces). Built in the vCPU's container under
 * ADDRESS_BUSES, so a user can register different buses (a logging bus, say).
 */
export class AddressBuses {
  readonly mmio: AddressBus;
  private readonly bySpace = new Map<string, AddressBus>();

  constructor(spaces: readonly AddressSpace[]) {
    for (const space of [MMIO_SPACE, ...spaces]) {
      if (this.bySpace.has(space.name)) continue;
      this.bySpace.set(space.name, new AddressBus(space));
    }
    this.mmio = this.bySpace.get(MMIO_SPACE.name)!;
  }

  /** The bus of `space`, or undefined when this machine's arch has no such space. */
  get(space: string): AddressBus | undefined {
    return this.bySpace.get(space);
  }

  /** The bus of `space`; a ConfigError naming `who` when the arch has no such space. */
  require(space: string, who: string): AddressBus {
    const bus = this.bySpace.get(space);
    if (!bus) throw new ConfigError(who, `address space '${space}' does not exist on this architecture (it has: ${this.names().join(', ')})`);
    return bus;
  }

  names(): string[] {
    return [...this.bySpace.keys()];
  }
}
