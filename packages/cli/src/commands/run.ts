import type { Command } from 'commander';
import { DEFAULT_DEMO_BYTES, runDemo, type DemoResult } from '../demo';
import { parsePositiveInt } from '../parse';
import { SignalStop } from '../signals';

const hex = (v: number | undefined) => (v === undefined ? '(none)' : '0x' + v.toString(16).padStart(8, '0'));

export function summarize(r: DemoResult): string {
  const lines = ['', '── kvmts run summary ──'];
  const exit = r.exit.reason === 'poweroff' ? `powered off with status ${r.exit.status}` : r.exit.reason === 'error' ? `failed: ${r.exit.error.message}` : `stopped (${r.exit.reason})`;
  lines.push(`guest:   ${exit} after ${r.wallMs.toFixed(1)} ms wall time (demo-checksum, ${r.guestFrom})`);
  r.exits.forEach((counts, id) => {
    const kinds = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`exits:   vCPU ${id}: ${kinds || 'none'}`);
  });
  lines.push(`result:  guest crc32 ${hex(r.guestCrc)} over ${r.bytes} bytes, host zlib.crc32 ${hex(r.hostCrc)} → ${r.guestCrc === r.hostCrc ? 'match' : 'MISMATCH'}`);
  return lines.join('\n');
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('boot the bundled x86-64 demo guest: it checksums a buffer the host filled and prints through the UART')
    .option('--bytes <n>', 'bytes of data for the guest to checksum', (v) => parsePositiveInt('--bytes', v), DEFAULT_DEMO_BYTES)
    .option('--seed <n>', 'seed of the generated data', (v) => parsePositiveInt('--seed', v), 1)
    .option('--memory <size>', 'guest memory, e.g. 64M', '64M')
    .option('--prebuilt', 'use the committed prebuilt guest instead of assembling it')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { bytes: number; seed: number; memory: string; prebuilt?: boolean; json?: boolean }) => {
      const signals = new SignalStop();
      let result: DemoResult;
      try {
        result = await runDemo({ bytes: opts.bytes, seed: opts.seed, memory: opts.memory, guestSource: opts.prebuilt ? 'prebuilt' : 'auto', signal: signals.signal });
      } finally {
        signals.dispose();
      }
      if (opts.json) {
        const { exit, ...rest } = result;
        // bigint (a system event's flags) has no JSON form: written as a decimal string.
        const json = JSON.stringify({ ...rest, exit: exit.reason === 'error' ? { reason: 'error', message: exit.error.message } : exit }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        process.stdout.write(json + '\n');
      } else {
        process.stdout.write(summarize(result) + '\n');
        if (result.exit.reason === 'error' && 'dump' in result.exit.error) process.stderr.write(String((result.exit.error as { dump: string }).dump) + '\n');
      }
      if (!result.ok) process.exitCode = signals.exitStatus ?? 1;
    });
}
