/**
 * What a kernel loader returns — a boot plan: memory writes at guest addresses, the vCPU's entry
 * state, and every guest range it used, by name — and the checks every plan goes through (each
 * range inside usable RAM, no two ranges overlapping), plus the placement rule for an initrd.
 * Pure: the x86 plugin applies a plan (loader/kernel-boot.ts), tests read it.
 */
import { ConfigError, NamedRangeSet } from '@kvmts/core';
import type { X86GprName } from '../abi/registers';
import type { MemoryWrite, ModeSregs } from '../boot/mode-setup';
import { E820_TYPE, X86_KERNEL_LAYOUT } from './kernel-layout';

/** A half-open guest-physical range [start, end) with what it holds. */
export interface BootRange {
  readonly what: string;
  readonly start: number;
  readonly end: number;
}

/** A RAM region of the machine (guest-physical). */
export interface RamRange {
  readonly base: number;
  readonly size: number;
}

/** One e820 / memory-map entry. */
export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

export type X86KernelFormat = 'bzimage' | 'pvh' | 'multiboot';

export interface X86BootPlan {
  readonly format: X86KernelFormat;
  /** 'long' (bzImage's 64-bit entry) or 'protected' (32-bit flat, paging off: PVH, Multiboot). */
  readonly mode: 'long' | 'protected';
  /** Bytes to copy into guest memory (kernel parts are views into the image, not copies). */
  readonly writes: readonly MemoryWrite[];
  /** Every range the plan uses, by name (already checked: inside RAM, pairwise disjoint). */
  readonly ranges: readonly BootRange[];
  /** The memory map the kernel is told (e820 table / memmap / mmap). */
  readonly memoryMap: readonly E820Entry[];
  /** The boot vCPU's special registers (merged over KVM's reset values). */
  readonly sregs: ModeSregs;
  /** The boot vCPU's general registers (rip, rsp, rflags and the protocol's pointers). */
  readonly regs: Partial<Record<X86GprName, bigint>>;
  /** Where the initrd went, when there is one. */
  readonly initrd?: { readonly start: number; readonly size: number };
}

export const hex = (n: number): string => `0x${n.toString(16)}`;
const show = (r: BootRange): string => `${r.what} [${hex(r.start)}, ${hex(r.end)})`;
export const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
export const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;

/**
 * The memory map a kernel is told, from the machine's RAM: RAM below 1 MiB stops at the EBDA
 * (0x9fc00), which with the VGA and BIOS areas up to 1 MiB is reserved; everything else is RAM.
 * The 32-bit MMIO hole is a gap, not an entry: Linux picks its PCI window from the gaps
 * (e820__setup_pci_gap), so listing it as reserved would hide it.
 */
export function buildMemoryMap(ram: readonly RamRange[]): E820Entry[] {
  const { lowMemoryEnd, highMemory } = X86_KERNEL_LAYOUT;
  const out: E820Entry[] = [];
  for (const r of [...ram].sort((a, b) => a.base - b.base)) {
    const end = r.base + r.size;
    if (r.size <= 0) continue;
    if (r.base < lowMemoryEnd) out.push({ addr: r.base, size: Math.min(end, lowMemoryEnd) - r.base, type: E820_TYPE.RAM });
    if (r.base < highMemory && end > lowMemoryEnd) {
      const start = Math.max(r.base, lowMemoryEnd);
      out.push({ addr: start, size: highMemory - start, type: E820_TYPE.RESERVED });
    }
    if (end > highMemory) {
      const start = Math.max(r.base, highMemory);
      out.push({ addr: start, size: end - start, type: E820_TYPE.RAM });
    }
  }
  return out;
}

/** The usable RAM of a memory map, as ranges. */
function usable(map: readonly E820Entry[]): BootRange[] {
  return map.filter((e) => e.type === E820_TYPE.RAM).map((e) => ({ what: 'RAM', start: e.addr, end: e.addr + e.size }));
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

/**
 * Throws a ConfigError unless every range lies inside one usable RAM entry ('memory': the machine
 * is too small, naming the range and the RAM end it needs) and no two ranges overlap ('boot',
 * naming both ranges — through core's NamedRangeSet, the one overlap check every layout in kvmts
 * uses, so a kernel boot's message reads like a flat boot's or a device's).
 */
export function checkRanges(ranges: readonly BootRange[], map: readonly E820Entry[]): void {
  const ram = usable(map);
  for (const r of ranges) {
    if (r.end <= r.start) continue;
    if (!ram.some((m) => m.start <= r.start && r.end <= m.end)) {
      const ramText = ram.map((m) => `[${hex(m.start)}, ${hex(m.end)})`).join(', ') || 'none';
      throw new ConfigError('memory', `${show(r)} is not inside usable RAM (${ramText}): the machine needs RAM up to at least ${hex(r.end)}`);
    }
  }
  const layout = new NamedRangeSet('guest memory');
  for (const r of ranges) if (r.end > r.start) layout.add({ name: r.what, base: r.start, size: r.end - r.start }, 'boot');
}

/**
 * The highest page-aligned start for `size` bytes inside usable RAM, ending at or below `limit`,
 * clear of every range in `avoid`; undefined when there is none.
 */
export function placeHigh(size: number, limit: number, map: readonly E820Entry[], avoid: readonly BootRange[]): number | undefined {
  const page = X86_KERNEL_LAYOUT.pageBytes;
  let best: number | undefined;
  for (const m of usable(map)) {
    let start = alignDown(Math.min(m.end, limit) - size, page);
    // Each step moves below one range in the way, so this ends after at most avoid.length steps.
    for (let step = 0; step <= avoid.length && start >= m.start; step++) {
      const hit = avoid.find((r) => r.end > r.start && overlaps(r, { start, end: start + size }));
      if (!hit) {
        if (best === undefined || start > best) best = start;
        break;
      }
      start = alignDown(hit.start - size, page);
    }
  }
  return best;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The command line as the kernel reads it: bytes with a NUL; ConfigError when it cannot be one. */
export function encodeCmdline(cmdline: string, maxBytes: number, limitName: string): Uint8Array {
  if (cmdline.includes('\0')) throw new ConfigError('boot.cmdline', 'contains a NUL character, which would end it early');
  // UTF-8 has no encoding for half a surrogate pair: TextEncoder would write U+FFFD instead, and
  // the kernel would read another command line than the one given (found by the x86-kernel fuzz target).
  const lone = LONE_SURROGATE.exec(cmdline);
  if (lone) throw new ConfigError('boot.cmdline', `has an unpaired UTF-16 surrogate (0x${lone[0].charCodeAt(0).toString(16)}) at index ${lone.index}, which UTF-8 cannot carry`);
  const bytes = new TextEncoder().encode(cmdline);
  const max = Math.min(maxBytes, X86_KERNEL_LAYOUT.cmdlineAreaBytes - 1);
  if (bytes.length > max) throw new ConfigError('boot.cmdline', `is ${bytes.length} bytes; ${max === maxBytes ? limitName : 'the loader\'s command-line area'} allows at most ${max}`);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A range for bytes written at `gpa`. */
export function rangeOf(what: string, gpa: number, bytes: number): BootRange {
  return { what, start: gpa, end: gpa + bytes };
}

/** Places the initrd as high as allowed and returns its range; ConfigError when it does not fit. */
export function placeInitrd(size: number, limit: number, map: readonly E820Entry[], avoid: readonly BootRange[], limitText: string): BootRange {
  const start = placeHigh(size, limit, map, avoid);
  if (start === undefined) {
    throw new ConfigError('boot.initrd', `${size} bytes do not fit in usable RAM below ${limitText} beside the kernel and boot structures (too large for this machine's memory)`);
  }
  return rangeOf('initrd', start, size);
}
