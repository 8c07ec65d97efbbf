/**
 * `kvmts restore <dir>`: a machine from a checkpoint (`kvmts run --checkpoint-dir D
 * --stop-at-checkpoint`, or any `machine.checkpoint(D)`), run in this process to its end. The
 * guest console goes to stdout (stderr with --json); the summary says how the run ended, the
 * exits, and the exit device's result when the machine has one named 'exit'. Checking and loading
 * guest memory shows progress on stderr (a bar on a terminal), except with --json.
 */
import type { Command } from 'commander';
import { restoreMachine } from '@kvmts/core';
import { readExitDeviceState } from '@kvmts/arch-x86';
import { SignalStop } from '../signals';
import { progressReporter } from '../progress';
import { describeExit, exitJson } from '../exit-summary';

interface RestoreOptions {
  json?: boolean;
  verifyMemory: boolean;
}

async function restore(dir: string, opts: RestoreOptions): Promise<number> {
  const consoleOut = opts.json ? process.stderr : process.stdout;
  const r0 = performance.now();
  // Progress of checking and loading memory on stderr; none with --json.
  const onProgress = opts.json ? undefined : progressReporter(process.stderr);
  const machine = await restoreMachine(dir, { verifyMemory: opts.verifyMemory, onProgress, console: (bytes) => consoleOut.write(bytes) });
  const restoreMs = performance.now() - r0;
  const signals = new SignalStop();
  signals.signal.addEventListener('abort', () => void machine.stop(), { once: true });
  try {
    const t0 = performance.now();
    const exit = await machine.run();
    const wallMs = performance.now() - t0;
    const exitDevice = machine.deviceState.get('exit');
    const state = exitDevice === undefined ? undefined : readExitDeviceState(exitDevice);
    const result = state?.hasResult ? state.result : undefined;
    const exits = machine.exitCounts();
    if (opts.json) {
      const json = { dir, restoreMs, wallMs, exit: exitJson(exit), exits, result: result ?? null };
      process.stdout.write(JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
    } else {
      const lines = ['', '── kvmts restore summary ──', `restore: ${dir} in ${restoreMs.toFixed(1)} ms`, `guest:   ${describeExit(exit)} after ${wallMs.toFixed(1)} ms wall time`];
      exits.forEach((counts, id) => lines.push(`exits:   vCPU ${id}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`));
      if (result !== undefined) lines.push(`result:  0x${result.toString(16).padStart(8, '0')} (the exit device's result register)`);
      process.stdout.write(lines.join('\n') + '\n');
    }
    return signals.exitStatus ?? (exit.reason === 'poweroff' ? exit.status : 1);
  } finally {
    signals.dispose();
    await machine.close();
  }
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a machine from a checkpoint directory and run it to its end')
    .argument('<dir>', 'the checkpoint directory')
    .option('--no-verify-memory', "skip the memory image's page checksums (it reads every stored page once)")
    .option('--json', 'one JSON summary on stdout (the console goes to stderr)')
    .action(async (dir: string, opts: RestoreOptions) => {
      process.exitCode = await restore(dir, opts);
    });
}
