/**
 * The top-level MachineConfig options checked before anything loads or opens: each bad value is
 * a ConfigError naming the option as the user wrote it. The config type says what each option
 * is, but a config built at run time (a JSON file, the CLI) may hold anything. The options with
 * their own owners are checked there: `cpus` (vcpuCount), `timing` (simTimeConfig), `memory`
 * and `memoryLimit` (prepareVm, memory-limit.ts), `devices` entries (prepareDevices), `boot` and
 * `archOptions` (the arch plugin).
 */
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import type { MachineConfig } from './machine-config';

/** Node's timers take at most 2^31 − 1 ms; a longer stop timeout would fire at once. */
export const MAX_STOP_TIMEOUT_MS = 2 ** 31 - 1;
const UNCLAIMED_POLICIES = ['ignore', 'error'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringArray(setting: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw new ConfigError(setting, `must be an array of module names, got ${describeValue(value)}`);
  value.forEach((m, i) => {
    if (typeof m !== 'string' || m === '') throw new ConfigError(`${setting}[${i}]`, `must be a module name, got ${describeValue(m)}`);
  });
}

function checkCoalesced(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw new ConfigError('coalesced', `must be an array of { base, size, pio }, got ${describeValue(value)}`);
  value.forEach((z: unknown, i) => {
    const setting = `coalesced[${i}]`;
    if (!isPlainObject(z)) throw new ConfigError(setting, `must be { base, size, pio }, got ${describeValue(z)}`);
    if (typeof z.base !== 'number' || !Number.isSafeInteger(z.base) || z.base < 0) throw new ConfigError(`${setting}.base`, `must be a non-negative integer, got ${describeValue(z.base)}`);
    if (typeof z.size !== 'number' || !Number.isInteger(z.size) || z.size < 1 || z.size > 0xffffffff) throw new ConfigError(`${setting}.size`, `must be an integer 1..2^32-1, got ${describeValue(z.size)}`);
    if (typeof z.pio !== 'boolean') throw new ConfigError(`${setting}.pio`, `must be true (port I/O) or false (MMIO), got ${describeValue(z.pio)}`);
  });
}

/** Throws a ConfigError naming the first bad top-level option of `config`. */
export function checkMachineOptions(config: unknown): asserts config is MachineConfig {
  if (!isPlainObject(config)) throw new ConfigError('config', `must be a MachineConfig object, got ${describeValue(config)}`);
  if (typeof config.arch !== 'string' || config.arch === '') throw new ConfigError('arch', `must be an architecture name such as 'x86_64', got ${describeValue(config.arch)}`);
  if (config.unclaimed !== undefined && !(UNCLAIMED_POLICIES as readonly unknown[]).includes(config.unclaimed)) {
    throw new ConfigError('unclaimed', `must be ${UNCLAIMED_POLICIES.map((p) => `'${p}'`).join(' or ')}, got ${describeValue(config.unclaimed)}`);
  }
  const t = config.stopTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_STOP_TIMEOUT_MS)) {
    throw new ConfigError('stopTimeoutMs', `must be a whole number of milliseconds 1..${MAX_STOP_TIMEOUT_MS}, got ${describeValue(t)}`);
  }
  if (config.kvmPath !== undefined && (typeof config.kvmPath !== 'string' || config.kvmPath === '')) throw new ConfigError('kvmPath', `must be a path, got ${describeValue(config.kvmPath)}`);
  if (config.devices !== undefined && !Array.isArray(config.devices)) throw new ConfigError('devices', `must be an array of DeviceSpec, got ${describeValue(config.devices)}`);
  checkStringArray('plugins', config.plugins);
  checkCoalesced(config.coalesced);
  if (config.memory === undefined) throw new ConfigError('memory', "is required: a size such as '64M' or a list of regions");
}

/** run()'s `maxExits`: absent (no limit) or a positive whole number. */
export function checkMaxExits(maxExits: unknown): number | undefined {
  if (maxExits === undefined || maxExits === Infinity) return undefined;
  if (typeof maxExits !== 'number' || !Number.isSafeInteger(maxExits) || maxExits < 1) throw new ConfigError('maxExits', `must be a positive whole number of exits, got ${describeValue(maxExits)}`);
  return maxExits;
}
