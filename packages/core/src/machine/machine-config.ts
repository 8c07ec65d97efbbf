import type { DeviceSpec } from './device-plugin';
import type { MemoryRegionOptions } from '../vm/memory-region';
import type { CoalescedZone } from '../vm/kvm-vm';
import type { UnclaimedPolicy } from '../bus/address-bus';
import type { SimTimeOptions } from '../timing/sim-time';

/**
 * One object describes a machine. Everything in it is plain data (it is sent to every vCPU
 * worker), so devices are DeviceSpecs, not instances.
 */
export interface MachineConfig<Boot = unknown> {
  /** Architecture plugin name, e.g. 'x86_64'. */
  readonly arch: string;
  /** Guest RAM: a byte count (laid out by the arch plugin) or explicit regions. */
  readonly memory: number | string | readonly MemoryRegionOptions[];
  readonly cpus?: number;
  readonly devices?: readonly DeviceSpec[];
  /** Arch-specific boot payload (typed by the arch plugin), e.g. an x86 flat binary. */
  readonly boot?: Boot;
  /** Arch-specific machine options, checked by the arch plugin (e.g. x86's `{ irqchip: 'kernel' }`). */
  readonly archOptions?: unknown;
  /**
   * Plugin modules to load in every thread, after the arch plugin (so what they register wins):
   * third-party arch or device packages, and overrides of KVM_CPU or device types.
   */
  readonly plugins?: readonly string[];
  readonly coalesced?: readonly CoalescedZone[];
  /** PIO/MMIO that no device claims: 'ignore' (default; reads return all-ones) or 'error'. */
  readonly unclaimed?: UnclaimedPolicy;
  /** Path of the KVM device (default /dev/kvm). */
  readonly kvmPath?: string;
  /** Milliseconds to wait for a vCPU thread to acknowledge a stop before it is terminated. */
  readonly stopTimeoutMs?: number;
  /**
   * Upper bound on guest memory: a size ('64G', bytes) or 'unlimited'. Default: the
   * KVMTS_MEMORY_LIMIT environment variable, else what the host can back (machine/memory-limit.ts).
   */
  readonly memoryLimit?: number | string;
  /** Simulated time of every vCPU: hostFreq (Hz) and hostFactor (timing/sim-time.ts). */
  readonly timing?: SimTimeOptions;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** '64M' / '1G' / '1T' / '4096' / 65536 → bytes; undefined when malformed. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  // Anything else (a config read at run time may hold any type) is not a size; RegExp.exec would
  // coerce it to a string, which throws for a Symbol or an object with a junk toString.
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[m[2].toLowerCase()];
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
