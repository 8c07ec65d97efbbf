/**
 * Is there a hardware PMU that counts guest cycles and instructions? Asked once per process
 * (per thread: each worker asks once) by opening the two hardware counters gem5 uses —
 * CPU_CYCLES and INSTRUCTIONS, disabled, exclude_host — and closing them again. Hosts without
 * one (this project's machine and its nested tier: ENOENT) fall back, and say so once on stderr:
 * simulated time follows the monotonic clock, instruction stops single-step.
 */
import * as native from '@kvmts/native';

/** linux/perf_event.h */
const PERF_TYPE_HARDWARE = 0;
const PERF_COUNT_HW_CPU_CYCLES = 0n;
const PERF_COUNT_HW_INSTRUCTIONS = 1n;
/** sizeof(struct perf_event_attr), PERF_ATTR_SIZE_VER5: every field we set is inside it. */
const ATTR_SIZE = 112;
const ATTR_CONFIG = 8;
/** The bitfield word after read_format. */
const ATTR_FLAGS = 40;
const FLAG_DISABLED = 1n << 0n;
const FLAG_EXCLUDE_HV = 1n << 6n;
const FLAG_EXCLUDE_HOST = 1n << 19n;

export interface PmuStatus {
  readonly available: boolean;
  /** Why not (the errno name of the failing perf_event_open, e.g. 'ENOENT'); '' when available. */
  readonly reason: string;
}

/** A perf_event_attr for one hardware counter counting only the guest. */
export function hardwareCounterAttr(config: bigint): Uint8Array {
  const attr = new Uint8Array(ATTR_SIZE);
  const dv = new DataView(attr.buffer);
  dv.setUint32(0, PERF_TYPE_HARDWARE, true);
  dv.setUint32(4, ATTR_SIZE, true);
  dv.setBigUint64(ATTR_CONFIG, config, true);
  dv.setBigUint64(ATTR_FLAGS, FLAG_DISABLED | FLAG_EXCLUDE_HV | FLAG_EXCLUDE_HOST, true);
  return attr;
}

let cached: PmuStatus | undefined;

/** Probe (once) whether perf can count guest cycles and instructions on this thread. */
export function detectPmu(): PmuStatus {
  if (cached !== undefined) return cached;
  for (const config of [PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS]) {
    let fd: number;
    try {
      fd = native.perfEventOpen(hardwareCounterAttr(config), 0, -1, -1, 0);
    } catch (e) {
      cached = { available: false, reason: (e as { code?: string }).code ?? (e as Error).message };
      return cached;
    }
    native.close(fd);
  }
  cached = { available: true, reason: '' };
  return cached;
}

/** Where one-time notices go: stderr unless KVMTS_QUIET_NOTICES is set, or a sink a host installs. */
let noticeSink: (line: string) => void = (line) => {
  if (!process.env.KVMTS_QUIET_NOTICES) process.stderr.write(`${line}\n`);
};
const noticesGiven = new Set<string>();

/** Replace where notices go (`() => undefined` silences them); returns the previous sink. */
export function setNoticeSink(sink: (line: string) => void): (line: string) => void {
  const previous = noticeSink;
  noticeSink = sink;
  return previous;
}

/** Say `line` once per key per thread. */
export function noticeOnce(key: string, line: string): void {
  if (noticesGiven.has(key)) return;
  noticesGiven.add(key);
  noticeSink(line);
}

/** The fallback notice for the time source and instruction stops. */
export function pmuNotice(status: PmuStatus = detectPmu()): void {
  if (status.available) {
    noticeOnce('pmu', 'kvmts: hardware PMU found, but kvmts does not read perf counters yet: simulated time follows the monotonic clock, instruction stops single-step');
  } else {
    noticeOnce('pmu', `kvmts: no hardware PMU (perf_event_open: ${status.reason}): simulated time follows the monotonic clock, instruction stops single-step`);
  }
}
