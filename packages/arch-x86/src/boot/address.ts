/** Internal: address option checks shared by the mode builders (not re-exported). */
import { ConfigError } from '@kvmts/core';

/** Accepts the usual ways callers write an address and returns a checked bigint. */
export function toAddress(setting: string, value: number | bigint, bits = 64): bigint {
  const v = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v >= 1n << BigInt(bits)) {
    throw new ConfigError(setting, `must be an integer in [0, 2^${bits}), got ${String(value)}`);
  }
  return v;
}
