/** Option checks shared by the device plugins; each throws ConfigError naming the option. */
import { ConfigError, describeValue } from '@kvmts/core';

/** A PIO base such that [base, base + size) fits in the 64 KiB port space. */
export function checkPortBase(setting: string, port: unknown, size: number): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port + size > 0x10000) {
    throw new ConfigError(setting, `must be an integer port with ${size} ports free below 0x10000, got ${describeValue(port)}`);
  }
  return port;
}

export function checkIntegerInRange(setting: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(setting, `must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
  return value;
}
