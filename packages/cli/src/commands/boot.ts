/**
 * `kvmts boot --kernel K [--initrd I] [--append ...] [--mem 512M] [--cpus N]`: boots a Linux
 * kernel on the machine the arch plugin builds for it (ArchPlugin.linuxBoot: on arm64 the
 * in-kernel vGICv3 and timer with a PL011 console), the host's arch unless --arch says
 * otherwise. The guest console is the terminal (raw mode, Ctrl-A x quits) or stdin piped;
 * the exit status is the guest's: power-off 0, a reset (a panic, with the panic=-1 the
 * plugins add) 2, an error 1. --json prints one JSON summary on stdout and the console on stderr.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  ConfigError,
  KvmSystemEvent,
  archForHost,
  createMachine,
  linuxBootProfile,
  parseSize,
  readInputFile,
  type ConsoleInput,
  type Device,
  type MachineExit,
} from '@kvmts/core';
import { ConsoleBridge } from '../console-bridge';
import { parseGuestMemory, parsePositiveInt } from '../parse';
import { SignalStop } from '../signals';
import { exitJson } from '../exit-summary';
import { memoryUse, type MemoryUse } from '../memory-use';

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

async function boot(opts: BootOptions): Promise<number> {
  const arch = opts.arch ?? archForHost();
  if (arch === undefined) throw new ConfigError('--arch', `no kvmts arch plugin for this host's CPU (${process.arch}): name one with --arch`);
  const memory = parseSize(opts.mem);
  if (memory === undefined) throw new ConfigError('--mem', `expected a size such as 512M or 2G, got '${opts.mem}'`);
  const kernel = readInputFile('--kernel', opts.kernel, KERNEL_LIMIT);
  const initrd = opts.initrd === undefined ? undefined : readInputFile('--initrd', opts.initrd, INITRD_LIMIT);
  const profile = linuxBootProfile(arch, { kernel, initrd, append: opts.append, memory, cpus: opts.cpus });

  const consoleOut = opts.json ? process.stderr : process.stdout;
  let started = 0;
  const sinceStart = () => performance.now() - started;
  const marker = new MarkerWatch(opts.readyMarker, sinceStart);
  const machine = await createMachine(
    { arch, memory, cpus: opts.cpus, devices: profile.devices, boot: profile.boot, archOptions: profile.archOptions },
    { console: (bytes) => { consoleOut.write(bytes); marker.feed(bytes); } },
  );
  let quit: string | undefined;
  let bridge: ConsoleBridge | undefined;
  let signals: SignalStop | undefined;
  let exit: MachineExit;
  let hostMemory: MemoryUse | undefined;
  try {
    // Inside the try: a console device that is not there (a third-party linuxBoot naming the
    // wrong one) must still close the machine and its threads.
    const console = machine.device(profile.consoleDevice);
    bridge = hasPushInput(console)
      ? new ConsoleBridge({ input: process.stdin, device: console, onQuit: () => { quit = 'Ctrl-A x'; void machine.stop(); } })
      : undefined;
    const stop = new SignalStop();
    signals = stop;
    stop.signal.addEventListener('abort', () => { quit = String(stop.signal.reason); void machine.stop(); }, { once: true });
    started = performance.now();
    exit = await machine.run();
    // Before close() unmaps guest RAM: what this process holds beyond it (the bench's figure).
    if (opts.json) hostMemory = memoryUse(machine.vm.regions.map((r) => r.hostAddress));
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
      arch, cmdline: profile.cmdline, cpus: opts.cpus, memory,
      exit: exitJson(exit),
      summary, status, wallMs: Math.round(wallMs * 10) / 10,
      // Process start (performance.timeOrigin) → machine.run(): Node and module start-up, the
      // VM and its vCPU workers built; the first KVM_RUN follows at once. The bench's start-up figure.
      startMs: Math.round(started * 10) / 10,
      readyMs: marker.at === undefined ? null : Math.round(marker.at * 10) / 10,
      hostMemory,
    };
    process.stdout.write(JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  } else {
    const ready = marker.at === undefined ? '' : `; ready marker after ${(marker.at / 1000).toFixed(2)} s`;
    process.stderr.write(`\nkvmts: ${summary} after ${(wallMs / 1000).toFixed(2)} s${ready}\n`);
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
    .action(async (opts: BootOptions) => {
      if (opts.readyMarker === '') throw new InvalidArgumentError('--ready-marker must not be empty');
      process.exitCode = await boot(opts);
    });
}
