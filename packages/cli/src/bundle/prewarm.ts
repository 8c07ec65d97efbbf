/**
 * The bundled CLI starts its vCPU threads first thing, for the commands that make a machine:
 * dist/bin.js calls startEarlyVcpuThreadsFor() right after its freshness check, before it
 * reads, compiles and evaluates the CLI bundle. A thread's start is mostly Node's own worker
 * bootstrap (seconds under an emulated CPU, where `--jitless` compiles Node's built-in modules
 * from source), so it then runs beside the main thread's whole start-up (bundle, program, arch
 * plugin, the VM's set-up) instead of after its first second (scripts/bench/README.md, `boot`).
 * The threads wait, idle and unref'd, until core's vCPU thread pool adopts them for the
 * machine; a command that fails first just ends with them.
 *
 * Such a thread starts before the CLI has resolved the packages the bundle shares
 * (./shared-modules.ts), so their files reach it through a shared buffer the CLI fills once it
 * has them (every vCPU thread reads them there, early or not).
 *
 * This module loads nothing but Node built-ins until it starts threads: dist/bin.js reads it on
 * every start, `kvmts --help` too.
 */
/** worker_threads, loaded only where vCPU threads start (its ~26 modules cost a one-vCPU boot on the main thread 50 ms in the emulated arm64 host). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const workerThreads = (): typeof import('node:worker_threads') => require('node:worker_threads') as typeof import('node:worker_threads');

/** The commands that make a machine (program.ts's COMMANDS; program.test.ts checks the names). */
export const MACHINE_COMMANDS: ReadonlySet<string> = new Set(['run', 'boot', 'dump', 'restore']);

/** `--vcpu-thread`'s values: `main` runs a one-vCPU machine's vCPU on the CLI's own thread, `worker` a thread per vCPU, `auto` main for one vCPU. */
export const VCPU_THREAD_SETTINGS = ['auto', 'main', 'worker'] as const;
export type VcpuThreadSetting = (typeof VCPU_THREAD_SETTINGS)[number];

/** Where `boot`'s vCPUs run for a --vcpu-thread setting: `auto` puts a one-vCPU machine on the main thread (no second V8 isolate to start). */
export function vcpuThreadFor(setting: VcpuThreadSetting, cpus: number): 'main' | 'worker' {
  return setting === 'auto' ? (cpus === 1 ? 'main' : 'worker') : setting;
}

/**
 * vCPU threads worth starting early for `argv` (process.argv): one per vCPU for a machine
 * command (`boot --cpus N`; one for the others, whose images decide), none for its --help,
 * none for a boot whose vCPU runs on the main thread (vcpuThreadFor). Core bounds them by its
 * pool's size (KVMTS_VCPU_POOL, default 4): a larger machine starts the rest itself.
 */
export function vcpuThreadsToPrewarm(argv: readonly string[]): number {
  const command = argv[2];
  if (command === undefined || !MACHINE_COMMANDS.has(command)) return 0;
  const args = argv.slice(3);
  if (args.some((a) => a === '--help' || a === '-h')) return 0;
  if (command !== 'boot') return 1;
  const cpus = cpusOption(args);
  const setting = optionValue(args, '--vcpu-thread');
  const known = VCPU_THREAD_SETTINGS.find((s) => s === (setting ?? 'auto'));
  // An unknown setting: boot refuses it; a thread started for it would only be waited for.
  if (known === undefined) return 0;
  return vcpuThreadFor(known, cpus) === 'main' ? 0 : cpus;
}

/** `--cpus N` or `--cpus=N` as boot reads it; 1 when absent or not a whole number ≥ 1 (boot then reports it). */
function cpusOption(args: readonly string[]): number {
  const raw = optionValue(args, '--cpus');
  const n = Number(raw);
  return raw !== undefined && /^[0-9]+$/.test(raw) && n >= 1 ? n : 1;
}

/** The last value of `--name V` or `--name=V` in args, as commander reads it. */
function optionValue(args: readonly string[], name: string): string | undefined {
  let raw: string | undefined;
  args.forEach((a, i) => {
    if (a === name) raw = args[i + 1];
    else if (a.startsWith(`${name}=`)) raw = a.slice(name.length + 1);
  });
  return raw;
}

/** The environment data key of the shared-files buffer (every vCPU thread gets it when it starts). */
export const SHARED_FILES_BUFFER_KEY = 'kvmts.bundle.sharedFilesBuffer';
/** The buffer's size: a 4-byte length, then the files as JSON (~1 KiB for the bundle's nine packages). */
const SHARED_FILES_BUFFER_BYTES = 64 * 1024;
const HEADER_BYTES = 4;

/** This process's shared-files buffer, made and put into the environment data on first use (the CLI's thread). */
export function sharedFilesBuffer(): SharedArrayBuffer {
  const { getEnvironmentData, setEnvironmentData } = workerThreads();
  const known = getEnvironmentData(SHARED_FILES_BUFFER_KEY);
  if (known instanceof SharedArrayBuffer) return known;
  const buffer = new SharedArrayBuffer(SHARED_FILES_BUFFER_BYTES);
  setEnvironmentData(SHARED_FILES_BUFFER_KEY, buffer);
  return buffer;
}

/**
 * Writes `files` (package name → resolved file, or null) into `buffer` for the vCPU threads: the
 * text first, its length last (a thread that reads meanwhile sees no files, never half of
 * them). Written once; false when the files do not fit or are there already.
 */
export function publishSharedFiles(buffer: SharedArrayBuffer, files: Readonly<Record<string, string | null>>): boolean {
  const length = new Int32Array(buffer, 0, 1);
  if (Atomics.load(length, 0) !== 0) return false;
  const text = Buffer.from(JSON.stringify(files), 'utf8');
  if (text.length > buffer.byteLength - HEADER_BYTES) return false;
  new Uint8Array(buffer, HEADER_BYTES, text.length).set(text);
  Atomics.store(length, 0, text.length);
  return true;
}

/** The files published in `buffer`, or undefined when there are none (yet), or no buffer. */
export function readSharedFiles(buffer: unknown): Record<string, string | null> | undefined {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) return undefined;
  const n = Atomics.load(new Int32Array(buffer, 0, 1), 0);
  if (n <= 0 || n > buffer.byteLength - HEADER_BYTES) return undefined;
  // Copied out of the shared memory before decoding (a view of shared memory is not decoded directly).
  return JSON.parse(Buffer.from(new Uint8Array(buffer, HEADER_BYTES, n)).toString('utf8')) as Record<string, string | null>;
}

/**
 * Starts the vCPU threads `argv` wants (vcpuThreadsToPrewarm) running `workerScript` (the
 * bundle's vcpu-worker-start.js), each handed the shared-files buffer. Returns how many started.
 */
export function startEarlyVcpuThreadsFor(argv: readonly string[], workerScript: string): number {
  const n = vcpuThreadsToPrewarm(argv);
  if (n === 0) return 0;
  sharedFilesBuffer();
  // Core's one module that loads nothing else of core: the bundle, with core, is not read yet.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startEarlyVcpuThreads } = require('@kvmts/core/vcpu-thread-start') as typeof import('@kvmts/core/vcpu-thread-start');
  return startEarlyVcpuThreads(workerScript, n);
}
