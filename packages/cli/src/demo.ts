import * as zlib from 'node:zlib';
import { ConfigError, archForHost, createMachine, type ExitCounts, type MachineExit } from '@kvmts/core';
import {
  GUEST_LAYOUT,
  assembleGuest,
  exitDevice,
  loadPrebuiltGuest,
  readExitDeviceState,
  uart8250,
  type GuestImage,
} from '@kvmts/arch-x86';

/** The demo guest's buffer lives at 1 MiB (GUEST_LAYOUT.data), inside the identity map. */
const BUFFER_GPA = GUEST_LAYOUT.data;
export const DEFAULT_DEMO_BYTES = 1 << 20;

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
}

export interface DemoResult {
  readonly exit: MachineExit;
  readonly wallMs: number;
  readonly bytes: number;
  readonly guestCrc: number | undefined;
  readonly hostCrc: number;
  readonly exits: ExitCounts[];
  readonly guestFrom: 'assembled' | 'prebuilt';
  readonly ok: boolean;
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
  const bytes = options.bytes ?? DEFAULT_DEMO_BYTES;
  const data = demoData(bytes, options.seed ?? 1);
  const { image, from } = loadDemoGuest(options.guestSource ?? 'auto');
  const exitSpec = exitDevice({}, 'exit');
  const machine = await createMachine(
    {
      arch,
      memory: options.memory ?? '64M',
      cpus: 1,
      devices: [uart8250({}, 'com1'), exitSpec],
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
  const stop = () => void machine.stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  try {
    const t0 = process.hrtime.bigint();
    const exit: MachineExit = options.signal?.aborted ? { reason: 'stopped' } : await machine.run();
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const state = readExitDeviceState(machine.deviceState.get('exit')!);
    const hostCrc = zlib.crc32(data) >>> 0;
    const guestCrc = state.hasResult ? state.result : undefined;
    const ok = exit.reason === 'poweroff' && exit.status === 0 && guestCrc === hostCrc;
    return { exit, wallMs, bytes, guestCrc, hostCrc, exits: machine.exitCounts(), guestFrom: from, ok };
  } finally {
    options.signal?.removeEventListener('abort', stop);
    await machine.close();
  }
}
