import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DEMO_BYTES, DEMO_MAX_BYTES, runDemo, type DemoResult } from '../demo';
import { parseBoundedInt, parseGuestMemory, parsePositiveInt } from '../parse';
import { SignalStop } from '../signals';
import { progressReporter } from '../progress';
import { describeExit, exitJson } from '../exit-summary';

const hex = (v: number | undefined) => (v === undefined ? '(none)' : '0x' + v.toString(16).padStart(8, '0'));

const exitKinds = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

export function summarize(r: DemoResult): string {
  const lines = ['', '── kvmts run summary ──'];
  lines.push(`guest:   ${describeExit(r.exit)} after ${r.wallMs.toFixed(1)} ms wall time (demo-checksum, ${r.guestFrom})`);
  const c = r.checkpoint;
  if (c !== undefined) {
    const [before, after] = r.parts;
    const upTo = c.at === 'm5op' ? "up to the guest's checkpoint m5op half-way" : `up to the exit limit (${c.at} exits)`;
    lines.push(`part 1:  ${before.exits.map((e, id) => `vCPU ${id}: ${exitKinds(e)}`).join('; ')} (${before.wallMs.toFixed(1)} ms), ${upTo}`);
    lines.push(`saved:   ${c.dataPages} of ${c.totalPages} pages hold data, in ${c.saveMs.toFixed(1)} ms, to ${c.dir}${c.kept ? '' : ' (temporary)'}`);
    if (c.restoreMs === undefined) {
      lines.push(`stopped: at the checkpoint; continue with: kvmts restore ${c.dir}`);
      return lines.join('\n');
    }
    lines.push(`restore: a fresh VM from the checkpoint in ${c.restoreMs.toFixed(1)} ms`);
    if (after !== undefined) lines.push(`part 2:  ${after.exits.map((e, id) => `vCPU ${id}: ${exitKinds(e)}`).join('; ')} (${after.wallMs.toFixed(1)} ms)`);
  }
  r.exits.forEach((counts, id) => lines.push(`exits:   vCPU ${id}: ${exitKinds(counts)}${c?.restoreMs !== undefined ? ' (restored VM)' : ''}`));
  lines.push(`start:   ${r.startMs.toFixed(1)} ms from process start to the first KVM_RUN`);
  lines.push(`result:  guest crc32 ${hex(r.guestCrc)} over ${r.bytes} bytes, host zlib.crc32 ${hex(r.hostCrc)} → ${r.guestCrc === r.hostCrc ? 'match' : 'MISMATCH'}`);
  return lines.join('\n');
}

interface RunOptions {
  bytes: number;
  seed: number;
  memory: string;
  prebuilt?: boolean;
  json?: boolean;
  checkpointAt: 'm5op' | 'none' | number;
  checkpointDir?: string;
  stopAtCheckpoint?: boolean;
}

function parseCheckpointAt(value: string): 'm5op' | 'none' | number {
  if (value === 'm5op' || value === 'none') return value;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`--checkpoint-at must be 'm5op', 'none' or an exit count, got '${value}'`);
  return n;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('boot the bundled x86-64 demo guest: it checksums a buffer the host filled and prints through the UART')
    .option('--bytes <n>', 'bytes of data for the guest to checksum', (v) => parseBoundedInt('--bytes', v, DEMO_MAX_BYTES, 'the demo buffer limit'), DEFAULT_DEMO_BYTES)
    .option('--seed <n>', 'seed of the generated data', (v) => parsePositiveInt('--seed', v), 1)
    .option('--memory <size>', 'guest memory, e.g. 64M', parseGuestMemory('--memory'), '64M')
    .option('--prebuilt', 'use the committed prebuilt guest instead of assembling it')
    .option('--checkpoint-at <when>', "where to checkpoint: 'm5op' (the guest's checkpoint m5op, half-way), an exit count, or 'none'", parseCheckpointAt, 'm5op')
    .option('--checkpoint-dir <dir>', 'keep the checkpoint in this directory (default: a temporary one, removed)')
    .option('--stop-at-checkpoint', 'save at the checkpoint and stop (finish later with kvmts restore <dir>)')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: RunOptions) => {
      const signals = new SignalStop();
      let result: DemoResult;
      try {
        result = await runDemo({
          bytes: opts.bytes, seed: opts.seed, memory: opts.memory, guestSource: opts.prebuilt ? 'prebuilt' : 'auto', signal: signals.signal,
          // --json: stdout is the one JSON document; the guest's console goes to stderr.
          // Without it, the checkpoint's save and restore show progress on stderr.
          ...(opts.json ? { console: (bytes: Uint8Array) => void process.stderr.write(bytes) } : { onProgress: progressReporter(process.stderr) }),
          checkpoint: opts.checkpointAt !== 'none', checkpointAtExits: typeof opts.checkpointAt === 'number' ? opts.checkpointAt : undefined, checkpointDir: opts.checkpointDir, stopAtCheckpoint: opts.stopAtCheckpoint,
        });
      } finally {
        signals.dispose();
      }
      if (opts.json) {
        const { exit, ...rest } = result;
        // bigint (a system event's flags) has no JSON form: written as a decimal string.
        const json = JSON.stringify({ ...rest, exit: exitJson(exit) }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        process.stdout.write(json + '\n');
      } else {
        process.stdout.write(summarize(result) + '\n');
        if (result.exit.reason === 'error' && 'dump' in result.exit.error) process.stderr.write(String((result.exit.error as { dump: string }).dump) + '\n');
      }
      if (!result.ok) process.exitCode = signals.exitStatus ?? 1;
    });
}
