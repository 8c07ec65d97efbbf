import * as fs from 'node:fs';
import { ConfigError, describeValue, type GuestMemory } from '@kvmts/core';
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

function readImage(image: Uint8Array | string): Uint8Array {
  if (typeof image !== 'string') return image;
  try {
    return new Uint8Array(fs.readFileSync(image));
  } catch (e) {
    throw new ConfigError('boot.image', `cannot read ${image}: ${(e as Error).message}`);
  }
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

/** Write the image, data and mode tables into memory; return each vCPU's initial registers. */
export function loadFlatImage(boot: X86FlatBoot, memory: GuestMemory, vcpuCount: number, ramBelow4G: number): X86InitialState[] {
  checkFlatBoot(boot);
  const image = readImage(boot.image);
  const load = boot.loadAddress ?? GUEST_LAYOUT.code;
  memory.write(load, image);
  for (const d of boot.data ?? []) memory.write(d.gpa, d.bytes);
  const states: X86InitialState[] = [];
  for (let id = 0; id < vcpuCount; id++) {
    const setup = modeSetup(boot, id, ramBelow4G);
    for (const w of setup.memoryWrites) memory.write(w.gpa, w.bytes);
    states.push({ sregs: setup.sregs, regs: { ...setup.regs, ...registersFor(boot, id) } });
  }
  return states;
}
