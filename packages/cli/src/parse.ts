import { InvalidArgumentError } from 'commander';
import { ConfigError, checkGuestMemorySize, guestMemoryLimit, parseSize } from '@kvmts/core';

/**
 * Option parsers: every numeric option is checked when commander reads it — before anything is
 * allocated or opened — and a bad value is an InvalidArgumentError naming the option.
 */
export function parsePositiveInt(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${option} must be a positive integer, got '${value}'`);
  return n;
}

/** A positive integer no larger than `max` (say why in `what`: 'the demo buffer is at most 256 MiB'). */
export function parseBoundedInt(option: string, value: string, max: number, what: string): number {
  const n = parsePositiveInt(option, value);
  if (n > max) throw new InvalidArgumentError(`${option} must be at most ${max} (${what}), got '${value}'`);
  return n;
}

/**
 * A guest memory size ('64M', '2G', bytes), checked against the host's bound (KVMTS_MEMORY_LIMIT
 * overrides it, as for createMachine). Returns the text as given: the machine config takes it.
 */
export function parseGuestMemory(option: string): (value: string) => string {
  return (value) => {
    const bytes = parseSize(value);
    if (bytes === undefined) throw new InvalidArgumentError(`${option} must be a size such as 64M or 2G, got '${value}'`);
    try {
      checkGuestMemorySize(bytes, guestMemoryLimit(undefined));
    } catch (e) {
      if (e instanceof ConfigError) throw new InvalidArgumentError(`${option} ${value}: ${e.message.replace(/^memory: /, '')}`);
      throw e;
    }
    return value;
  };
}
