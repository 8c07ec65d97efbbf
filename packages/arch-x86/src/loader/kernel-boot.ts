/**
 * `boot: { kind: 'kernel', image, initrd?, cmdline? }` on x86: the image's format is detected
 * (QEMU's order: a bzImage by its "HdrS" header, then an ELF with a PVH entry note, then a
 * Multiboot header), its loader builds a boot plan, and the plan is written into guest memory.
 * The boot vCPU (0) gets the plan's entry state; the others wait for INIT/SIPI in the in-kernel
 * LAPIC, as on a PC (so more than one vCPU needs `archOptions.irqchip: 'kernel'`).
 */
import * as buffer from 'node:buffer';
import { ConfigError, describeValue, readInputFile, type GuestMemory } from '@kvmts/core';
import type { X86InitialState } from '../state/initial-state';
import type { RamRange, X86BootPlan, X86KernelFormat } from './boot-plan';
import { isBzImage, planBzImage, type KernelLoadInput } from './bzimage';
import { isElf, parseElf } from './elf';
import { isMultiboot, planMultiboot } from './multiboot';
import { planPvh, pvhEntry } from './pvh';

/** MachineConfig.boot for a kernel on x86. */
export interface X86KernelBoot {
  readonly kind: 'kernel';
  /** A bzImage, an ELF kernel with a PVH entry note (Linux's vmlinux), or a Multiboot kernel; bytes or a file path. */
  readonly image: Uint8Array | string;
  /** An initrd / initramfs (Multiboot: module 0); bytes or a file path. */
  readonly initrd?: Uint8Array | string;
  /** The kernel command line. */
  readonly cmdline?: string;
}

/** Which loader takes `image`; ConfigError when none does. */
export function detectKernelFormat(image: Uint8Array): X86KernelFormat {
  if (isBzImage(image)) return 'bzimage';
  if (isElf(image) && pvhEntry(parseElf(image)) !== undefined) return 'pvh';
  if (isMultiboot(image)) return 'multiboot';
  if (isElf(image)) throw new ConfigError('boot.image', 'an ELF file with neither a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) nor a Multiboot header: kvmts cannot tell how to enter it');
  throw new ConfigError('boot.image', `not a kernel kvmts can boot (${image.length} bytes): no bzImage header ("HdrS" at 0x202), no ELF PVH note, no Multiboot header in the first 8 KiB`);
}

/** The boot plan for a kernel (pure): detection, then the format's loader. */
export function planKernelBoot(input: KernelLoadInput): X86BootPlan {
  switch (detectKernelFormat(input.image)) {
    case 'bzimage':
      return planBzImage(input);
    case 'pvh':
      return planPvh(input);
    case 'multiboot':
      return planMultiboot(input);
  }
}

/**
 * The most a kernel or initrd file may hold: anything larger cannot fit the 4 GiB below which
 * the loaders place everything. Read through core's bounded reader, so a FIFO, a device such as
 * /dev/zero or a directory is a ConfigError at once, never a hang or an unbounded read.
 */
const KERNEL_FILE_LIMIT = 2 ** 32 - 1;

function readBytes(setting: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'string') throw new ConfigError(setting, `must be a Uint8Array or a file path, got ${describeValue(value)}`);
  return readInputFile(setting, value, Math.min(KERNEL_FILE_LIMIT, buffer.constants.MAX_LENGTH));
}

/** Checks `boot` field by field (a config built at run time may hold anything) and reads its files. */
export function readKernelBoot(boot: unknown): Omit<KernelLoadInput, 'ram'> {
  if (typeof boot !== 'object' || boot === null || Array.isArray(boot)) throw new ConfigError('boot', `must be an object (X86KernelBoot), got ${describeValue(boot)}`);
  const b = boot as Record<string, unknown>;
  const known = ['kind', 'image', 'initrd', 'cmdline'];
  for (const key of Object.keys(b)) if (!known.includes(key)) throw new ConfigError(`boot.${key}`, `unknown field of a kernel boot (known: ${known.join(', ')})`);
  if (b.cmdline !== undefined && typeof b.cmdline !== 'string') throw new ConfigError('boot.cmdline', `must be a string, got ${describeValue(b.cmdline)}`);
  const image = readBytes('boot.image', b.image);
  const initrd = b.initrd === undefined ? undefined : readBytes('boot.initrd', b.initrd);
  return { image, ...(initrd ? { initrd } : {}), ...(b.cmdline !== undefined ? { cmdline: b.cmdline } : {}) };
}

/**
 * Plans and writes a kernel boot; returns each vCPU's state (vCPU 0 enters the kernel, the others
 * wait for INIT/SIPI). `ram` is the machine's RAM as the guest is told of it.
 */
export function loadKernel(boot: X86KernelBoot, memory: GuestMemory, ram: readonly RamRange[], vcpuCount: number, inKernelLapic: boolean): { plan: X86BootPlan; states: X86InitialState[] } {
  const input = readKernelBoot(boot);
  if (vcpuCount > 1 && !inKernelLapic) {
    throw new ConfigError('archOptions.irqchip', `a kernel boot with ${vcpuCount} vCPUs needs 'kernel': the application processors wait for INIT/SIPI in the in-kernel LAPIC`);
  }
  const plan = planKernelBoot({ ...input, ram });
  for (const w of plan.writes) memory.write(w.gpa, w.bytes);
  const states: X86InitialState[] = [{ regs: plan.regs, sregs: plan.sregs }];
  for (let id = 1; id < vcpuCount; id++) states.push({});
  return { plan, states };
}
