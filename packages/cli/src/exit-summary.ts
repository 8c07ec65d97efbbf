/**
 * How a machine run ended, worded once for every command (`run`, `restore`, `dump`, `boot`): one
 * line for people and one JSON value for `--json` (an error as its class, message and, for a
 * KvmtsError with one, its code or setting — an Error object does not survive JSON.stringify).
 */
import { ConfigError, KvmError, CheckpointError, GuestError, type MachineExit } from '@kvmts/core';

/** 'powered off with status 0', 'failed: …', 'm5 exit (delay 0 ns)', 'stopped (exit-limit)'. */
export function describeExit(exit: MachineExit): string {
  switch (exit.reason) {
    case 'poweroff':
      return `powered off with status ${exit.status}`;
    case 'error':
      return `failed: ${exit.error.message}`;
    case 'm5-exit':
      return `m5 exit (delay ${exit.delayNs} ns)`;
    case 'm5op-end':
      return `stopped at m5op ${exit.call.op} (0x${exit.call.func.toString(16)})`;
    default:
      return `stopped (${exit.reason})`;
  }
}

/** A JSON-safe error: its class and message, plus the field a program switches on. */
function errorJson(error: Error): Record<string, string | number> {
  const out: Record<string, string | number> = { name: error.name, message: error.message };
  if (error instanceof GuestError) out.kind = error.kind;
  if (error instanceof KvmError || error instanceof CheckpointError) out.code = error.code;
  if (error instanceof ConfigError) out.setting = error.setting;
  return out;
}

/** The exit as a JSON value (bigints are left to the caller's replacer). */
export function exitJson(exit: MachineExit): unknown {
  return exit.reason === 'error' ? { reason: 'error', ...errorJson(exit.error) } : exit;
}
