import { ConfigError, NamedRangeSet, describeValue, readInputFile, type GuestMemory, type NamedRange } from '@kvmts/core';
import { GUEST_LAYOUT } from '../boot/layout';
import { longModeSetup } from '../boot/long-mode';
import { protectedModeSetup } from '../boot/protected-mode';
import { realModeSetup } from '../boot/real-mode';
import type { ModeSetup } from '../boot/mode-setup';
import type { X86GprName } from '../abi/registers';
import { X86_GPR_NAMES } from '../abi/registers';
import type { X86InitialState } from '../state/initial-state';
import { checkFlatBoot } from './flat-boot-check';

export type X86RegisterValues = Partial<Record<X86GprName, number | bigint>>;

/**
 * Boot payload for small guests: a flat binary copied to `loadAddress` and entered directly in
 * the requested mode — no firmware, no mode-switch code in the guest. (Linux bzImage boot
 * arrives with its own issue.)
 */
export interface X86FlatBoot {
  readonly kind: 'flat';
  /** Program bytes, or the path of a flat binary. */
  readonly image: Uint8Array | string;
  /** Guest-physical load address. Default GUEST_LAYOUT.code (0x8000). */
  readonly loadAddress?: number;
  /** Entry point (guest-physical). Default `loadAddress`. */
  readonly entry?: number;
  readonly mode: 'real' | 'protected' | 'long';
  /** Long mode only: start at CPL 3 (native speed on PVM hosts) or 0. Default 0. */
  readonly cpl?: 0 | 3;
  /** Stack top of vCPU 0; vCPU n gets `stack - n * stackStride`. Default GUEST_LAYOUT.stackTop. */
  readonly stack?: number;
  readonly stackStride?: number;
  /** Long mode: bytes identity-mapped from 0. Default: all RAM below 4 GiB, at most 4 GiB. */
  readonly mapBytes?: number;
  /** Initial general registers: one object for every vCPU, or one per vCPU id. */
  readonly registers?: X86RegisterValues | readonly X86RegisterValues[];
  /** Extra bytes to place in guest memory (buffers the guest works on). */
  readonly data?: readonly { readonly gpa: number; readonly bytes: Uint8Array }[];
}

const DEFAULT_STACK_STRIDE = 0x800;

/**
 * The image bytes; a path goes through core's bounded regular-file reader, limited to the RAM
 * below 4 GiB (where a flat image loads): a FIFO, a device or a directory is refused by name.
 */
function readImage(image: Uint8Array | string, ramBelow4G: number): Uint8Array {
  return typeof image === 'string' ? readInputFile('boot.image', image, ramBelow4G) : image;
}

function registersFor(boot: X86FlatBoot, id: number): Partial<Record<X86GprName, bigint>> {
  const r = Array.isArray(boot.registers) ? boot.registers[id] : (boot.registers as X86RegisterValues | undefined);
  const out: Partial<Record<X86GprName, bigint>> = {};
  for (const [k, v] of Object.entries(r ?? {}) as [string, number | bigint | undefined][]) {
    if (!(X86_GPR_NAMES as readonly string[]).includes(k)) throw new ConfigError(`boot.registers.${k}`, `not an x86 general register (expected one of ${X86_GPR_NAMES.join(', ')})`);
    if (v === undefined) continue;
    out[k as X86GprName] = BigInt.asUintN(64, BigInt(v));
  }
  return out;
}

/** Per-vCPU mode setup: same code, own stack. */
function modeSetup(boot: X86FlatBoot, id: number, ramBelow4G: number): ModeSetup {
  const load = boot.loadAddress ?? GUEST_LAYOUT.code;
  const entry = boot.entry ?? load;
  const stack = (boot.stack ?? GUEST_LAYOUT.stackTop) - id * (boot.stackStride ?? DEFAULT_STACK_STRIDE);
  switch (boot.mode) {
    case 'real':
      if (entry > 0xffff || stack > 0x10000) throw new ConfigError('boot.entry', 'real mode entry and stack must lie in the first 64 KiB (CS = SS = 0)');
      return realModeSetup({ ip: entry, sp: stack & 0xffff });
    case 'protected':
      return protectedModeSetup({ entry, stack });
    case 'long':
      return longModeSetup({ entry, stack, cpl: boot.cpl ?? 0, mapBytes: boot.mapBytes ?? Math.min(Math.max(ramBelow4G, 0x200000), 2 ** 32) });
    default:
      throw new ConfigError('boot.mode', `expected 'real', 'protected' or 'long', got ${describeValue((boot as { mode: unknown }).mode)}`);
  }
}

/** The stack of vCPU `id`: the `stackStride` bytes below its stack top. */
function stackRange(boot: X86FlatBoot, id: number): NamedRange {
  const stride = boot.stackStride ?? DEFAULT_STACK_STRIDE;
  const top = (boot.stack ?? GUEST_LAYOUT.stackTop) - id * stride;
  return { name: `the stack of vCPU ${id}`, base: top - stride, size: stride };
}

/**
 * Nothing the boot places may overlap anything else, or one would silently overwrite the other
 * (at load time, or at run time for a stack): the mode's tables (GDT/TSS, page tables), then each
 * vCPU's stack (so a vCPU count the default layout has no stack room for is named), the image
 * and the data. The later of two colliding ranges names its setting; the message names both.
 */
function checkFlatLayout(boot: X86FlatBoot, image: Uint8Array, setups: readonly ModeSetup[]): void {
  const layout = new NamedRangeSet('guest memory');
  const tables = new Set<string>();
  for (const setup of setups) {
    for (const w of setup.memoryWrites) {
      const key = `${w.gpa}+${w.bytes.length}`;
      if (tables.has(key)) continue; // the same table, written again by the next vCPU
      tables.add(key);
      layout.add({ name: w.name ?? 'boot tables', base: w.gpa, size: w.bytes.length }, 'boot');
    }
  }
  setups.forEach((_, id) => {
    const stack = stackRange(boot, id);
    // A stack below address 0: the count of vCPUs does not fit the stack layout.
    if (stack.base < 0) throw new ConfigError('boot.stack', `${stack.name} would start below address 0 (stack 0x${(boot.stack ?? GUEST_LAYOUT.stackTop).toString(16)} − ${id + 1} × stride 0x${(boot.stackStride ?? DEFAULT_STACK_STRIDE).toString(16)}): raise boot.stack or lower boot.stackStride`);
    layout.add(stack, 'boot.stack');
  });
  layout.add({ name: 'boot.image', base: boot.loadAddress ?? GUEST_LAYOUT.code, size: image.length }, 'boot.loadAddress');
  (boot.data ?? []).forEach((d, i) => layout.add({ name: `boot.data[${i}]`, base: d.gpa, size: d.bytes.length }, `boot.data[${i}].gpa`));
}

/** Write the image, data and mode tables into memory; return each vCPU's initial registers. */
export function loadFlatImage(boot: X86FlatBoot, memory: GuestMemory, vcpuCount: number, ramBelow4G: number): X86InitialState[] {
  checkFlatBoot(boot);
  const image = readImage(boot.image, ramBelow4G);
  const load = boot.loadAddress ?? GUEST_LAYOUT.code;
  const setups = Array.from({ length: vcpuCount }, (_, id) => modeSetup(boot, id, ramBelow4G));
  checkFlatLayout(boot, image, setups);
  memory.write(load, image);
  for (const d of boot.data ?? []) memory.write(d.gpa, d.bytes);
  // The vCPUs share the tables (same place, same bytes but each TSS's rsp0): each writes its own in turn.
  for (const setup of setups) for (const w of setup.memoryWrites) memory.write(w.gpa, w.bytes);
  return setups.map((setup, id) => ({ sregs: setup.sregs, regs: { ...setup.regs, ...registersFor(boot, id) } }));
}
