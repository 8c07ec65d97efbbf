/**
 * `kvmts boot --kernel K [--initrd I] [--append ...] [--mem 512M] [--cpus N]`: boots a Linux
 * kernel on the machine the arch plugin builds for it (ArchPlugin.linuxBoot: on arm64 the
 * in-kernel vGICv3 and timer with a PL011 console), the host's arch unless --arch says
 * otherwise. The guest console is the terminal (raw mode, Ctrl-A x quits) or stdin piped;
 * the exit status is the guest's: power-off 0, a reset (a panic, with the panic=-1 the
 * plugins add) 2, an error 1. --json prints one JSON summary on stdout and the console on stderr.
 *
 * The kernel and initrd go from their files straight into guest RAM where the plugin can place
 * them (core's BootFile); KVMTS_BOOT_READ_INPUTS=1 reads them into memory first and has the
 * plugin copy them, the way it was before — for the boot benchmark's comparison of the two
 * (scripts/bench/boot-startup.js --read-inputs-side).
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  ConfigError,
  KvmSystemEvent,
  archForHost,
  bootBytes,
  createMachine,
  linuxBootProfile,
  openBootFile,
  parseSize,
  type ConsoleInput,
  type Device,
  type Machine,
  type MachineExit,
  type ThreadHeapStatistics,
} from '@kvmts/core';
import { mallocStats, mallocTrim, releaseBytes } from '@kvmts/native';
import { ConsoleBridge, isDevNull } from '../console-bridge';
import { parseGuestMemory, parsePositiveInt } from '../parse';
import { SignalStop } from '../signals';
import { exitJson } from '../exit-summary';
import { memoryUse, type MemoryUse } from '../memory-use';
import { recordMemoryStep, recordedMemorySteps } from '../memory-steps';
import { collectStartupGarbage, startupCollectionSetting, startupCollectionWanted } from '../startup-collection';
import { VCPU_THREAD_SETTINGS, vcpuThreadFor, type VcpuThreadSetting } from '../bundle/prewarm';
import { msSinceProcessStart } from '../bundle/startup-trace';
import { writeStdio } from '../stdio';

/** `1`: read the kernel and initrd into memory before the machine is built, instead of into guest RAM (a comparison). */
export const READ_INPUTS_ENV = 'KVMTS_BOOT_READ_INPUTS';

const KERNEL_LIMIT = 512 * 1024 * 1024;
const INITRD_LIMIT = 2 * 1024 * 1024 * 1024 - 1;

interface BootOptions {
  kernel: string;
  initrd?: string;
  append?: string;
  mem: string;
  cpus: number;
  arch?: string;
  readyMarker?: string;
  json?: boolean;
  memorySteps?: boolean;
  vcpuThread: VcpuThreadSetting;
}

function parseVcpuThread(value: string): VcpuThreadSetting {
  const setting = VCPU_THREAD_SETTINGS.find((s) => s === value);
  if (setting === undefined) throw new InvalidArgumentError(`--vcpu-thread must be one of ${VCPU_THREAD_SETTINGS.join(', ')}, got '${value}'`);
  return setting;
}

/** How the run ended, as an exit status and one line for the user. */
export function bootOutcome(exit: MachineExit): { status: number; summary: string } {
  switch (exit.reason) {
    case 'poweroff':
      return { status: exit.status, summary: `the guest powered off (status ${exit.status})` };
    case 'system-event':
      if (exit.event === KvmSystemEvent.SHUTDOWN) return { status: 0, summary: 'the guest powered off' };
      if (exit.event === KvmSystemEvent.RESET) return { status: 2, summary: 'the guest reset (a kernel panic with panic=-1, or a reboot)' };
      return { status: 1, summary: `the guest reported system event ${KvmSystemEvent[exit.event] ?? exit.event}` };
    case 'error':
      return { status: 1, summary: `the guest failed: ${exit.error.message}` };
    case 'stopped':
      return { status: 0, summary: 'stopped' };
    default:
      return { status: 1, summary: `the guest stopped (${exit.reason})` };
  }
}

/** Watches console output for a marker; remembers when it first appeared. */
class MarkerWatch {
  private tail = '';
  at: number | undefined;
  constructor(private readonly marker: string | undefined, private readonly t0: () => number) {}
  feed(bytes: Uint8Array): void {
    if (this.marker === undefined || this.at !== undefined) return;
    this.tail = (this.tail + Buffer.from(bytes).toString('latin1')).slice(-(this.marker.length + 4096));
    if (this.tail.includes(this.marker)) this.at = this.t0();
  }
}

function hasPushInput(d: Device): d is Device & ConsoleInput {
  return typeof (d as Partial<ConsoleInput>).pushInput === 'function';
}

/**
 * The vCPU threads' heaps for a memory step; none from a thread that cannot answer (it failed),
 * and none for a vCPU on the main thread (its heap is the main thread's, already in the step).
 */
function vcpuHeaps(machine: Machine): Promise<ThreadHeapStatistics[] | undefined> {
  if (machine.vcpus.every((v) => v.onMainThread)) return Promise.resolve([]);
  return machine.vcpuHeapStatistics().catch(() => undefined);
}

async function boot(opts: BootOptions): Promise<number> {
  // Every step's time since the process started (cheap: always taken, reported by --json as
  // startupSteps, the start-up breakdown of scripts/bench/boot-startup.js); with
  // --memory-steps each step also samples the process's memory.
  const startupSteps: Record<string, number> = {};
  const mark = (name: string): void => {
    startupSteps[name] = Math.round(msSinceProcessStart() * 10) / 10;
  };
  const step = (name: string, guestRam?: readonly bigint[], heaps?: ThreadHeapStatistics[]): void => {
    mark(name);
    if (opts.memorySteps) recordMemoryStep(name, guestRam, heaps, mallocStats());
  };
  step('cli-loaded');
  const collectSetting = startupCollectionSetting(); // read first: a bad value fails before any work
  const arch = opts.arch ?? archForHost();
  if (arch === undefined) throw new ConfigError('--arch', `no kvmts arch plugin for this host's CPU (${process.arch}): name one with --arch`);
  const memory = parseSize(opts.mem);
  if (memory === undefined) throw new ConfigError('--mem', `expected a size such as 512M or 2G, got '${opts.mem}'`);
  // Opened and checked, their headers read; a plugin that can reads them straight into guest
  // RAM when it builds the machine (core's BootFile), else linuxBootProfile reads them now.
  const readInputs = process.env[READ_INPUTS_ENV] === '1';
  const kernelFile = openBootFile('--kernel', opts.kernel, KERNEL_LIMIT);
  const kernel = readInputs ? bootBytes(kernelFile) : kernelFile;
  mark('kernel-opened');
  const initrdFile = opts.initrd === undefined ? undefined : openBootFile('--initrd', opts.initrd, INITRD_LIMIT);
  const initrd = readInputs && initrdFile ? bootBytes(initrdFile) : initrdFile;
  mark('initrd-opened');
  const profile = linuxBootProfile(arch, { kernel, initrd, append: opts.append, memory, cpus: opts.cpus });
  step('inputs-read');

  // The guest's console: straight to the fd (./stdio.ts), stderr when stdout carries the JSON.
  const consoleFd = opts.json ? 2 : 1;
  let started = 0;
  const sinceStart = () => msSinceProcessStart() - started;
  const marker = new MarkerWatch(opts.readyMarker, sinceStart);
  let guestRam: bigint[] = [];
  const onConsole = (bytes: Uint8Array): void => {
    writeStdio(consoleFd, bytes);
    const seen = marker.at !== undefined;
    marker.feed(bytes);
    // The guest has reached userspace and runs on: the process as it is while a guest runs.
    if (!seen && marker.at !== undefined && opts.memorySteps) step('guest-ready', guestRam);
  };
  const vcpuThread = vcpuThreadFor(opts.vcpuThread, opts.cpus);
  // Once the machine is built, while the plugin may still be reading the kernel and initrd into
  // guest RAM on the thread pool (core's whileBootFilesLoad): the inputs' copies go back, and
  // the start-up's garbage.
  const settle = async (built: Machine): Promise<void> => {
    guestRam = built.vm.regions.map((r) => r.hostAddress);
    step('machine-built', guestRam, opts.memorySteps ? await vcpuHeaps(built) : undefined);
    // Where the kernel and initrd were read into memory for the plugin (one without
    // linuxBootFromFiles: x86), they are in guest RAM now and nothing reads these copies again
    // (the machine's config holds the same arrays): their memory goes back now, not at a garbage
    // collection the idle main thread may not run for the whole boot (scripts/bench/README.md,
    // `boot`). What the C heap keeps free of them goes back too.
    for (const bytes of [...(profile.readInputs ?? []), ...[kernel, initrd].filter((b) => b instanceof Uint8Array)]) releaseBytes(bytes);
    mallocTrim();
    step('inputs-released', guestRam);
    // What the start-up left in each thread's heap goes back before the guest runs (../startup-collection.ts).
    if (startupCollectionWanted(collectSetting, built.vcpus.every((v) => v.onMainThread))) {
      await collectStartupGarbage(built);
      step('start-up-collected', guestRam, opts.memorySteps ? await vcpuHeaps(built) : undefined);
    }
  };
  const machine = await createMachine(
    { arch, memory, cpus: opts.cpus, devices: profile.devices, boot: profile.boot, archOptions: profile.archOptions },
    { console: onConsole, onStep: mark, vcpuThread, whileBootFilesLoad: settle },
  );
  mark('machine-ready');
  let quit: string | undefined;
  let bridge: ConsoleBridge | undefined;
  let signals: SignalStop | undefined;
  let exit: MachineExit;
  let hostMemory: MemoryUse | undefined;
  try {
    // Inside the try: a console device that is not there (a third-party linuxBoot naming the
    // wrong one) must still close the machine and its threads.
    const console = machine.device(profile.consoleDevice);
    // No console input from /dev/null: reading it would only start libuv's thread pool.
    bridge = hasPushInput(console) && !isDevNull(0)
      ? new ConsoleBridge({ input: process.stdin, device: console, onQuit: () => { quit = 'Ctrl-A x'; void machine.stop(); } })
      : undefined;
    const stop = new SignalStop();
    signals = stop;
    stop.signal.addEventListener('abort', () => { quit = String(stop.signal.reason); void machine.stop(); }, { once: true });
    started = msSinceProcessStart();
    exit = await machine.run();
    // Before close() unmaps guest RAM: what this process holds beyond it (the bench's figure).
    if (opts.json) hostMemory = memoryUse(guestRam);
    if (opts.memorySteps) step('end', guestRam, await vcpuHeaps(machine));
  } finally {
    signals?.dispose();
    bridge?.close();
    await machine.close();
  }
  const wallMs = sinceStart();
  const outcome = bootOutcome(exit);
  const status = signals?.exitStatus ?? outcome.status;
  const summary = quit ? `stopped by ${quit}` : outcome.summary;
  if (opts.json) {
    const json = {
      arch, cmdline: profile.cmdline, cpus: opts.cpus, memory, vcpuThread,
      exit: exitJson(exit),
      summary, status, wallMs: Math.round(wallMs * 10) / 10,
      // Process start (Node's: process.uptime()'s origin) → machine.run(): Node and module start-up, the
      // VM and its vCPU workers built; the first KVM_RUN follows at once. The bench's start-up figure.
      startMs: Math.round(started * 10) / 10,
      readyMs: marker.at === undefined ? null : Math.round(marker.at * 10) / 10,
      // When each start-up step ended, ms since the process started (startMs is the last).
      startupSteps,
      hostMemory,
      ...(opts.memorySteps ? { memorySteps: recordedMemorySteps() } : {}),
    };
    writeStdio(1, JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  } else {
    const ready = marker.at === undefined ? '' : `; ready marker after ${(marker.at / 1000).toFixed(2)} s`;
    writeStdio(2, `\nkvmts: ${summary} after ${(wallMs / 1000).toFixed(2)} s${ready}\n`);
  }
  return status;
}

export function registerBoot(program: Command): void {
  program
    .command('boot')
    .description('boot a Linux kernel (arm64 Image; x86 bzImage, PVH vmlinux or Multiboot) with the guest console on this terminal; Ctrl-A x quits')
    .requiredOption('--kernel <file>', 'the kernel image')
    .option('--initrd <file>', 'an initramfs (cpio) image')
    .option('--append <words>', 'kernel command-line words (the console and panic=-1 are added unless given)')
    .option('--mem <size>', 'guest memory', parseGuestMemory('--mem'), '512M')
    .option('--cpus <n>', 'vCPUs', (v) => parsePositiveInt('--cpus', v), 1)
    .option('--arch <name>', "architecture plugin (default: the host's)")
    .option('--ready-marker <text>', 'console text whose first appearance is reported as the ready time')
    .option('--json', 'one JSON summary on stdout (the console goes to stderr)')
    .option('--memory-steps', "with --json: the process's memory at each step of the boot (memorySteps), for the boot benchmark")
    .option('--vcpu-thread <where>', 'where the vCPUs run: main (this thread, in 20 ms slices; one vCPU), worker (a thread per vCPU), auto (main for one vCPU)', parseVcpuThread, 'auto' as VcpuThreadSetting)
    .action(async (opts: BootOptions) => {
      // ConfigErrors: the program prints them as one line (an error thrown here would be a stack trace).
      if (opts.readyMarker === '') throw new ConfigError('--ready-marker', 'must not be empty');
      if (opts.memorySteps && !opts.json) throw new ConfigError('--memory-steps', 'needs --json (the steps are part of its JSON summary)');
      if (opts.vcpuThread === 'main' && opts.cpus !== 1) throw new ConfigError('--vcpu-thread', `main runs one vCPU on this thread; --cpus is ${opts.cpus} (use worker or auto)`);
      process.exitCode = await boot(opts);
    });
}
