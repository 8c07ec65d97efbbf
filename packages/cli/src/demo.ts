import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ConfigError, archForHost, createMachine, parseSize, restoreMachine, type CheckpointProgressCallback, type ExitCounts, type Machine, type MachineExit } from '@kvmts/core';
import {
  GUEST_LAYOUT,
  X86_LAYOUT,
  assembleGuest,
  exitDevice,
  loadPrebuiltGuest,
  m5opsDoorbell,
  readExitDeviceState,
  uart8250,
  type GuestImage,
} from '@kvmts/arch-x86';

/** The demo guest's buffer lives at 1 MiB (GUEST_LAYOUT.data), inside the identity map. */
const BUFFER_GPA = GUEST_LAYOUT.data;
export const DEFAULT_DEMO_BYTES = 1 << 20;
/** The host builds the demo buffer in its own memory first: a cap keeps a typo from exhausting it. */
export const DEMO_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The demo buffer must fit in guest RAM above BUFFER_GPA — checked before the host allocates it
 * (the flat loader would refuse it too, but only after the data exists).
 */
export function checkDemoBuffer(bytes: number, memory: string): void {
  const ram = parseSize(memory);
  if (ram === undefined) throw new ConfigError('--memory', `expected a size such as 64M, got '${memory}'`);
  if (BUFFER_GPA + bytes > Math.min(ram, X86_LAYOUT.mmioHoleStart)) {
    throw new ConfigError('--bytes', `${bytes} bytes at 0x${BUFFER_GPA.toString(16)} do not fit in ${memory} of guest memory: raise --memory or lower --bytes`);
  }
}

export interface DemoOptions {
  /** Bytes of host-generated data the guest checksums. */
  readonly bytes?: number;
  /** Seed of the data generator (same seed → same bytes → same CRC). */
  readonly seed?: number;
  /** Guest memory size. */
  readonly memory?: string;
  /** Console sink (default stdout). */
  readonly console?: (bytes: Uint8Array) => void;
  /** 'auto': assemble with binutils when present, else the committed prebuilt copy. */
  readonly guestSource?: 'auto' | 'assemble' | 'prebuilt';
  /** Stops the guest when aborted (the run then ends with reason 'stopped'). */
  readonly signal?: AbortSignal;
  /** Progress of the checkpoint's save and restore (core's onProgress). */
  readonly onProgress?: CheckpointProgressCallback;
  /**
   * Where the guest asks for a checkpoint (gem5's checkpoint m5op, half-way through the buffer)
   * the machine is saved into `checkpointDir` (default: a temporary directory, removed after) and
   * the rest runs in a fresh VM restored from it. false: run straight through, no checkpoint.
   */
  readonly checkpoint?: boolean;
  /** Checkpoint after this many exits instead of at the guest's m5op (which is then ignored). */
  readonly checkpointAtExits?: number;
  readonly checkpointDir?: string;
  /** Save at the checkpoint and stop there (`kvmts restore <dir>` finishes it). Needs checkpointDir. */
  readonly stopAtCheckpoint?: boolean;
}

/** One stretch of the demo run: in the first VM, or in the one restored from the checkpoint. */
export interface DemoPart {
  readonly wallMs: number;
  readonly exits: ExitCounts[];
}

/** What the checkpoint half-way held and took. */
export interface DemoCheckpoint {
  /** The guest's checkpoint m5op, or the exit count that ended the first part. */
  readonly at: 'm5op' | number;
  readonly dir: string;
  /** Kept (checkpointDir given) or removed after the restore. */
  readonly kept: boolean;
  readonly saveMs: number;
  /** Guest RAM pages with data (the image stores no zero pages), of all pages. */
  readonly dataPages: number;
  readonly totalPages: number;
  /** restoreMachine() until the restored machine was ready to run. */
  readonly restoreMs?: number;
}

export interface DemoResult {
  readonly exit: MachineExit;
  /** Both parts' guest time, when there was a checkpoint (save and restore not included). */
  readonly wallMs: number;
  /** Before the checkpoint (or the whole run without one) and, when restored, after it. */
  readonly parts: readonly DemoPart[];
  readonly checkpoint?: DemoCheckpoint;
  readonly bytes: number;
  readonly guestCrc: number | undefined;
  readonly hostCrc: number;
  readonly exits: ExitCounts[];
  readonly guestFrom: 'assembled' | 'prebuilt';
  readonly ok: boolean;
  /**
   * Process start (performance.timeOrigin) → the first machine.run(), whose first KVM_RUN follows
   * at once: Node's and kvmts' start-up, the VM and its vCPU thread built (issue #11's figure).
   */
  readonly startMs: number;
}

/** Deterministic pseudo-random bytes (xorshift32), so a run is reproducible from its seed. */
export function demoData(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function loadDemoGuest(source: DemoOptions['guestSource']): { image: GuestImage; from: 'assembled' | 'prebuilt' } {
  if (source === 'prebuilt') return { image: loadPrebuiltGuest('demo-checksum'), from: 'prebuilt' };
  try {
    return { image: assembleGuest('demo-checksum'), from: 'assembled' };
  } catch (e) {
    if (source === 'assemble') throw e;
    return { image: loadPrebuiltGuest('demo-checksum'), from: 'prebuilt' };
  }
}

/** The architecture of the demo guest's code. */
const DEMO_ARCH = 'x86_64';

/**
 * The main job: boot the bundled x86-64 demo guest, let it CRC-32 a buffer the host filled
 * (at CPL3, native speed), print through the 8250 UART and power off through the exit device;
 * then check its answer against Node's zlib.crc32.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  // The CLI picks the arch plugin for the host's architecture; the demo guest is x86-64 code.
  const arch = archForHost();
  if (arch !== DEMO_ARCH) throw new ConfigError('arch', `the demo guest is ${DEMO_ARCH} code and this host is ${arch ?? process.arch}`);
  if (options.stopAtCheckpoint && options.checkpointDir === undefined) throw new ConfigError('checkpointDir', 'stopping at the checkpoint needs a directory to keep it in');
  const bytes = options.bytes ?? DEFAULT_DEMO_BYTES;
  checkDemoBuffer(bytes, options.memory ?? '64M');
  const data = demoData(bytes, options.seed ?? 1);
  const hostCrc = zlib.crc32(data) >>> 0;
  const { image, from } = loadDemoGuest(options.guestSource ?? 'auto');
  const checkpointing = options.checkpoint !== false;
  const machine = await createMachine(
    {
      arch,
      memory: options.memory ?? '64M',
      cpus: 1,
      devices: [uart8250({}, 'com1'), exitDevice({}, 'exit'), ...(checkpointing ? [m5opsDoorbell()] : [])],
      boot: {
        kind: 'flat',
        mode: 'long',
        cpl: 3,
        image: image.bytes,
        loadAddress: image.loadAddress,
        entry: image.entry,
        registers: { rdi: BUFFER_GPA, rsi: bytes },
        data: [{ gpa: BUFFER_GPA, bytes: data }],
      },
    },
    { console: options.console },
  );
  // The guest's checkpoint m5op ends this machine's run and the machine is saved right there;
  // with an exit count instead, the op is ignored and the exit limit ends the run.
  const atExits = options.checkpointAtExits;
  if (checkpointing) machine.m5ops.handle('checkpoint', () => (atExits === undefined ? 'end-run' : undefined));
  const parts: DemoPart[] = [];
  let checkpoint: DemoCheckpoint | undefined;
  let last: Machine = machine;
  let restored: Machine | undefined;
  const dir = options.checkpointDir ?? (checkpointing ? fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-demo-')) : undefined);
  try {
    const startMs = performance.now();
    let exit = await timedRun(machine, options.signal, parts, atExits);
    if (checkpointing && dir !== undefined && exit.reason === (atExits === undefined ? 'm5op-end' : 'exit-limit')) {
      const t0 = performance.now();
      const manifest = await machine.checkpoint(dir, { onProgress: options.onProgress });
      const saveMs = performance.now() - t0;
      const pages = { dataPages: manifest.memory.dataPages, totalPages: manifest.memory.bytes / manifest.memory.pageSize };
      checkpoint = { at: atExits ?? 'm5op', dir, kept: options.checkpointDir !== undefined, saveMs, ...pages };
      if (!options.stopAtCheckpoint) {
        await machine.close(); // the rest runs in a fresh VM
        const r0 = performance.now();
        restored = await restoreMachine(dir, { console: options.console, onProgress: options.onProgress });
        checkpoint = { ...checkpoint, restoreMs: performance.now() - r0 };
        last = restored;
        exit = await timedRun(restored, options.signal, parts);
      }
    }
    const state = readExitDeviceState(last.deviceState.get('exit')!);
    const guestCrc = state.hasResult ? state.result : undefined;
    const stoppedAsAsked = options.stopAtCheckpoint === true && checkpoint !== undefined;
    const ok = stoppedAsAsked || (exit.reason === 'poweroff' && exit.status === 0 && guestCrc === hostCrc);
    const wallMs = parts.reduce((sum, p) => sum + p.wallMs, 0);
    return { exit, wallMs, parts, checkpoint, bytes, guestCrc, hostCrc, exits: last.exitCounts(), guestFrom: from, ok, startMs };
  } finally {
    await machine.close();
    await restored?.close();
    if (dir !== undefined && options.checkpointDir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `m` to its end (or until `signal` fires), recording the part's wall time and exits. */
async function timedRun(m: Machine, signal: AbortSignal | undefined, parts: DemoPart[], maxExits?: number): Promise<MachineExit> {
  const stop = () => void m.stop();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const t0 = performance.now();
    const exit: MachineExit = signal?.aborted ? { reason: 'stopped' } : await m.run(maxExits === undefined ? {} : { maxExits });
    parts.push({ wallMs: performance.now() - t0, exits: m.exitCounts() });
    return exit;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
