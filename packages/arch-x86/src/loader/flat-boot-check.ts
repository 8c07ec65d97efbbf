/**
 * `boot: { kind: 'flat' }` checked field by field before the loader writes anything. The type
 * says what each field is, but a config built at run time (a JSON file, the CLI) may hold any
 * value; without this, a bad one surfaced as a RangeError from BigInt(), a TypeError from a
 * Uint8Array copy, or a NaN address in a "no RAM region" message (found by `npm run fuzz --
 * flat-image`).
 */
import { ConfigError, describeValue } from '@kvmts/core';
import { X86_GPR_NAMES } from '../abi/registers';
import type { X86FlatBoot, X86RegisterValues } from './flat-image';

/** A guest-physical address or size: a non-negative safe integer. */
function checkAddress(setting: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) {
    throw new ConfigError(setting, `must be a non-negative integer, got ${describeValue(value)}`);
  }
}

/** A register value: an integer number or a bigint, taken modulo 2^64 (negative numbers as two's complement). */
function checkRegisterValues(setting: string, values: unknown): void {
  if (values === undefined) return;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new ConfigError(setting, `must be an object of register values, got ${describeValue(values)}`);
  for (const [name, value] of Object.entries(values)) {
    if (!(X86_GPR_NAMES as readonly string[]).includes(name)) throw new ConfigError(`${setting}.${name}`, `not an x86 general register (expected one of ${X86_GPR_NAMES.join(', ')})`);
    if (value !== undefined && typeof value !== 'bigint' && !(typeof value === 'number' && Number.isInteger(value))) {
      throw new ConfigError(`${setting}.${name}`, `must be an integer (a number or a bigint), got ${describeValue(value)}`);
    }
  }
}

/** Throws a ConfigError naming the first bad field of `boot`. */
export function checkFlatBoot(boot: unknown): asserts boot is X86FlatBoot {
  if (typeof boot !== 'object' || boot === null || Array.isArray(boot)) throw new ConfigError('boot', `must be an object (X86FlatBoot), got ${describeValue(boot)}`);
  const b = boot as Record<string, unknown>;
  if (typeof b.image !== 'string' && !(b.image instanceof Uint8Array)) throw new ConfigError('boot.image', `must be a Uint8Array or a file path, got ${describeValue(b.image)}`);
  for (const field of ['loadAddress', 'entry', 'stack', 'stackStride', 'mapBytes'] as const) checkAddress(`boot.${field}`, b[field]);
  if (b.cpl !== undefined && b.cpl !== 0 && b.cpl !== 3) throw new ConfigError('boot.cpl', `must be 0 or 3, got ${describeValue(b.cpl)}`);
  const registers = b.registers as X86RegisterValues | readonly X86RegisterValues[] | undefined;
  if (Array.isArray(registers)) registers.forEach((r, i) => checkRegisterValues(`boot.registers[${i}]`, r));
  else checkRegisterValues('boot.registers', registers);
  if (b.data !== undefined) {
    if (!Array.isArray(b.data)) throw new ConfigError('boot.data', `must be an array of { gpa, bytes }, got ${describeValue(b.data)}`);
    b.data.forEach((d: unknown, i) => {
      if (typeof d !== 'object' || d === null) throw new ConfigError(`boot.data[${i}]`, `must be { gpa, bytes }, got ${describeValue(d)}`);
      const { gpa, bytes } = d as Record<string, unknown>;
      checkAddress(`boot.data[${i}].gpa`, gpa ?? -1);
      if (!(bytes instanceof Uint8Array)) throw new ConfigError(`boot.data[${i}].bytes`, `must be a Uint8Array, got ${describeValue(bytes)}`);
    });
  }
}
