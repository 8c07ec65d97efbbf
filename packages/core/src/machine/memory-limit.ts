/**
 * The upper bound on a machine's guest memory, derived from the host so that a request the host
 * cannot back (a typo such as '1T', a config from another machine) is a ConfigError naming the
 * request and the bound before anything is mapped — not an mmap failure, nor a guest that is
 * OOM-killed half-way through its run.
 *
 * Guest RAM is mapped MAP_NORESERVE and only takes host pages as the guest touches them, so the
 * bound is what the host can actually supply when the guest touches all of it:
 *  - overcommit_memory 0 (heuristic) or 1 (always): MemAvailable + SwapFree. The kernel would
 *    let a larger mapping through, but the pages past this bound do not exist.
 *  - overcommit_memory 2 (never): the lesser of that and CommitLimit − Committed_AS, because in
 *    this mode the kernel ignores MAP_NORESERVE and charges the whole mapping at mmap time.
 * Overridden by MachineConfig.memoryLimit, else the KVMTS_MEMORY_LIMIT environment variable: a
 * size ('64G', bytes) or 'unlimited'. Where /proc cannot be read there is no host bound.
 */
import * as fs from 'node:fs';
import { ConfigError } from '../errors/errors';
import { describeValue } from '../errors/describe-value';
import { parseSize } from './machine-config';

/** The environment variable that overrides the host-derived bound (MachineConfig.memoryLimit wins over it). */
export const MEMORY_LIMIT_ENV = 'KVMTS_MEMORY_LIMIT';

/** The /proc figures the bound is derived from, in bytes (overcommit: /proc/sys/vm/overcommit_memory). */
export interface HostMemoryInfo {
  readonly memAvailable: number;
  readonly swapFree: number;
  readonly commitLimit: number;
  readonly committedAs: number;
  readonly overcommit: number;
}

/** A bound and where it came from, for the error message. */
export interface MemoryLimit {
  /** Bytes; Infinity when unlimited. */
  readonly bytes: number;
  readonly source: string;
}

const MEMINFO_FIELDS = { memAvailable: 'MemAvailable', swapFree: 'SwapFree', commitLimit: 'CommitLimit', committedAs: 'Committed_AS' } as const;

/** Parse /proc/meminfo text ("MemAvailable:   21820860 kB") and the overcommit mode; undefined when a field is missing. */
export function parseHostMemoryInfo(meminfo: string, overcommit: string): HostMemoryInfo | undefined {
  const values: Record<string, number> = {};
  for (const line of meminfo.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) values[m[1]] = Number(m[2]) * (line.includes('kB') ? 1024 : 1);
  }
  const mode = Number(overcommit.trim());
  if (!Number.isInteger(mode)) return undefined;
  const out: Record<string, number> = { overcommit: mode };
  for (const [key, field] of Object.entries(MEMINFO_FIELDS)) {
    if (values[field] === undefined) return undefined;
    out[key] = values[field];
  }
  return out as unknown as HostMemoryInfo;
}

/** This host's figures, or undefined where /proc does not say (then there is no host bound). */
export function readHostMemoryInfo(procRoot = '/proc'): HostMemoryInfo | undefined {
  try {
    return parseHostMemoryInfo(fs.readFileSync(`${procRoot}/meminfo`, 'utf8'), fs.readFileSync(`${procRoot}/sys/vm/overcommit_memory`, 'utf8'));
  } catch {
    return undefined;
  }
}

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${Math.floor(bytes / MiB)} MiB`;

/** The host-derived bound (see the module comment for the rule per overcommit mode). */
export function hostMemoryLimit(info: HostMemoryInfo): MemoryLimit {
  const backed = info.memAvailable + info.swapFree;
  const backedWhy = `MemAvailable ${mib(info.memAvailable)} + SwapFree ${mib(info.swapFree)}`;
  if (info.overcommit === 2) {
    const commit = Math.max(0, info.commitLimit - info.committedAs);
    if (commit < backed) return { bytes: commit, source: `the host's commit limit (overcommit_memory 2: CommitLimit ${mib(info.commitLimit)} − Committed_AS ${mib(info.committedAs)})` };
  }
  return { bytes: backed, source: `what the host can back (overcommit_memory ${info.overcommit}: ${backedWhy})` };
}

/** A memoryLimit setting ('unlimited', a size) as a bound; ConfigError naming `setting` when malformed. */
function parseLimit(value: unknown, setting: string): MemoryLimit {
  if (value === 'unlimited') return { bytes: Infinity, source: `${setting} 'unlimited'` };
  const bytes = parseSize(value);
  if (bytes === undefined) throw new ConfigError(setting, `${describeValue(value)} is not a size (bytes, a string like '64G', or 'unlimited')`);
  return { bytes, source: `${setting} (${describeValue(value)})` };
}

/** The bound for a machine: `configured` (MachineConfig.memoryLimit), else the environment, else the host's. */
export function guestMemoryLimit(configured: unknown, env: NodeJS.ProcessEnv = process.env, host: () => HostMemoryInfo | undefined = readHostMemoryInfo): MemoryLimit {
  if (configured !== undefined) return parseLimit(configured, 'memoryLimit');
  const fromEnv = env[MEMORY_LIMIT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return parseLimit(fromEnv, MEMORY_LIMIT_ENV);
  const info = host();
  return info ? hostMemoryLimit(info) : { bytes: Infinity, source: '/proc/meminfo is not readable' };
}

/** ConfigError for `memory` when `requestedBytes` exceeds `limit`; the message names both and how to change the bound. */
export function checkGuestMemorySize(requestedBytes: number, limit: MemoryLimit): void {
  if (requestedBytes <= limit.bytes) return;
  throw new ConfigError(
    'memory',
    `${requestedBytes} bytes (${mib(requestedBytes)}) of guest memory requested; the bound is ${limit.bytes} bytes (${mib(limit.bytes)}), ${limit.source}. ` +
      `Ask for less, or set memoryLimit (or ${MEMORY_LIMIT_ENV}) to a size or 'unlimited'`,
  );
}
