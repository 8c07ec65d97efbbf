/**
 * `kvmts dump`: run a guest to a stop point — an exit count, an m5op (`--m5op checkpoint`, or
 * `any`), or wherever it stops by itself — and print the eight x86 state dumps of vCPU 0 (integer, special, FPU, XSAVE, XCRs, debug
 * registers, vCPU events, MSRs), as text or as JSON for tools. The guest is the bundled demo
 * (as `kvmts run` boots it) or a flat image.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError, M5OP_TABLE, archForHost, createMachine, m5opByName, type ExitCounts, type MachineExit } from '@kvmts/core';
import {
  GUEST_LAYOUT,
  X86ThreadContext,
  X86_DUMP_SECTION_NAMES,
  assembleGuest,
  exitDevice,
  formatX86Dump,
  m5ops,
  loadPrebuiltGuest,
  uart8250,
  x86Dump,
  type DumpValue,
  type X86Boot,
  type X86DumpSection,
} from '@kvmts/arch-x86';
import { DEMO_MAX_BYTES, checkDemoBuffer, demoData } from '../demo';
import { parseBoundedInt, parseGuestMemory, parsePositiveInt } from '../parse';
import { describeExit, exitJson } from '../exit-summary';

interface DumpOptions {
  exits?: number;
  m5op?: string;
  image?: string;
  load: number;
  entry?: number;
  mode: 'real' | 'protected' | 'long';
  cpl: 0 | 3;
  bytes: number;
  memory: string;
  irqchip: 'kernel' | 'none';
  sections: X86DumpSection[];
  prebuilt?: boolean;
  json?: boolean;
}

const MODES = ['real', 'protected', 'long'] as const;

function parseAddress(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 32) throw new InvalidArgumentError(`${option} must be an address below 4 GiB (decimal or 0x hex), got '${value}'`);
  return n;
}

function parseChoice<T extends string>(option: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`${option} must be one of ${choices.join(', ')}, got '${value}'`);
    return value as T;
  };
}

/** An m5op name from gem5's table, or 'any'. */
function parseM5op(value: string): string {
  if (value !== 'any' && !m5opByName(value)) throw new InvalidArgumentError(`--m5op takes 'any' or one of ${M5OP_TABLE.map((o) => o.name).join(', ')}; got '${value}'`);
  return value;
}

function parseSections(value: string): X86DumpSection[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(X86_DUMP_SECTION_NAMES as string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) throw new InvalidArgumentError(`--sections takes a comma-separated list of ${X86_DUMP_SECTION_NAMES.join(', ')}; unknown: ${unknown.join(', ') || '(empty)'}`);
  return names as X86DumpSection[];
}

/** The demo guest as `kvmts run` boots it (CRC-32 of host data, at CPL3), or a flat image. */
function bootFor(o: DumpOptions): X86Boot {
  // 4 GiB identity-mapped in long mode, so the image reaches the m5op window at 0xFFFF0000.
  if (o.image !== undefined) return { kind: 'flat', mode: o.mode, cpl: o.cpl, image: o.image, loadAddress: o.load, entry: o.entry ?? o.load, ...(o.mode === 'long' ? { mapBytes: 2 ** 32 } : {}) };
  let image = o.prebuilt ? loadPrebuiltGuest('demo-checksum') : undefined;
  try {
    image ??= assembleGuest('demo-checksum');
  } catch {
    // No binutils here: the committed copy is the same program.
    image = loadPrebuiltGuest('demo-checksum');
  }
  checkDemoBuffer(o.bytes, o.memory);
  const data = demoData(o.bytes, 1);
  return {
    kind: 'flat',
    mode: 'long',
    cpl: 3,
    image: image.bytes,
    loadAddress: image.loadAddress,
    entry: image.entry,
    registers: { rdi: GUEST_LAYOUT.data, rsi: o.bytes },
    data: [{ gpa: GUEST_LAYOUT.data, bytes: data }],
  };
}

/** JSON with bigints as 0x-prefixed hex strings (JSON has no 64-bit integers). */
export function dumpJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v));
}

export interface DumpResult {
  readonly stop: MachineExit;
  /** vCPU 0's exits by kind (and kvmts' counters), as `kvmts run` reports them. */
  readonly exits: ExitCounts;
  readonly sections: Partial<Record<X86DumpSection, Record<string, DumpValue>>>;
  readonly text: string;
}

/** Boot, run to the stop point, and dump vCPU 0. */
export async function runDump(o: DumpOptions): Promise<DumpResult> {
  const arch = archForHost();
  if (arch !== 'x86_64') throw new ConfigError('arch', `kvmts dump shows x86-64 state and this host is ${arch ?? process.arch}`);
  const machine = await createMachine(
    {
      arch,
      memory: o.memory,
      // With --m5op, the m5op window (0xFFFF0000) and doorbell (port 0x58), so a guest's m5op can
      // be the stop point; without, an m5op is an unclaimed access like any other (one exit).
      devices: [uart8250({}, 'com1'), exitDevice({}, 'exit'), ...(o.m5op !== undefined ? m5ops() : [])],
      boot: bootFor(o),
      archOptions: { irqchip: o.irqchip },
    },
    // The guest's console goes to stderr: stdout carries the dump (and JSON must stay clean).
    { console: (bytes) => process.stderr.write(bytes) },
  );
  try {
    // The demo guest asks for a checkpoint half-way (kvmts run saves it there); a dump is not a
    // checkpoint, so that request is acknowledged and the guest goes on — unless it is the stop point.
    machine.m5ops.handle('checkpoint', () => undefined);
    if (o.m5op !== undefined) {
      for (const op of o.m5op === 'any' ? M5OP_TABLE.map((t) => t.name) : [o.m5op]) machine.m5ops.handle(op, () => 'end-run');
    }
    const stop = await machine.run({ maxExits: o.exits });
    const data = await machine.vcpus[0].call<unknown>('threadContext');
    const tc = X86ThreadContext.fromData(data);
    return { stop, exits: machine.exitCounts()[0], sections: x86Dump(tc, o.sections), text: formatX86Dump(tc, o.sections) };
  } finally {
    await machine.close();
  }
}

export function registerDump(program: Command): void {
  program
    .command('dump')
    .description('run a guest to a stop point and print the x86 state dumps of vCPU 0: integer, special, FPU, XSAVE, XCRs, debug registers, vCPU events, MSRs')
    .option('--exits <n>', 'stop after this many exits (default: run until the guest stops)', (v) => parsePositiveInt('--exits', v))
    .option('--m5op <name>', "stop at the guest's first call of this m5op (gem5's name, e.g. checkpoint), or 'any'", parseM5op)
    .option('--image <file>', 'a flat x86 binary instead of the demo guest')
    .option('--load <address>', 'load address of --image', (v) => parseAddress('--load', v), GUEST_LAYOUT.code)
    .option('--entry <address>', 'entry point of --image (default: the load address)', (v) => parseAddress('--entry', v))
    .option('--mode <mode>', `CPU mode for --image: ${MODES.join(', ')}`, parseChoice('--mode', MODES), 'long')
    .option('--cpl <level>', 'privilege level for --image in long mode: 0 or 3', (v) => Number(parseChoice('--cpl', ['0', '3'] as const)(v)) as 0 | 3, 0)
    .option('--bytes <n>', 'bytes the demo guest checksums', (v) => parseBoundedInt('--bytes', v, DEMO_MAX_BYTES, 'the demo buffer limit'), 4096)
    .option('--memory <size>', 'guest memory, e.g. 64M', parseGuestMemory('--memory'), '64M')
    .option('--irqchip <kind>', 'interrupt controllers: kernel (KVM in-kernel PIC, IOAPIC, PIT, LAPIC) or none', parseChoice('--irqchip', ['kernel', 'none'] as const), 'none')
    .option('--sections <list>', `comma-separated subset of ${X86_DUMP_SECTION_NAMES.join(',')}`, parseSections, X86_DUMP_SECTION_NAMES)
    .option('--prebuilt', 'use the committed prebuilt demo guest instead of assembling it')
    .option('--json', 'print one JSON object (64-bit values as 0x hex strings)')
    .action(async (opts: DumpOptions) => {
      const r = await runDump(opts);
      if (opts.json) {
        const stop = exitJson(r.stop);
        process.stdout.write(dumpJson({ vcpu: 0, stop, exits: r.exits, sections: r.sections }) + '\n');
      } else {
        const exits = Object.entries(r.exits).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
        process.stdout.write(`vCPU 0: ${describeExit(r.stop)}; exits: ${exits}\n${r.text}\n`);
      }
      if (r.stop.reason === 'error') process.exitCode = 1;
    });
}
