/**
 * The bundled CLI starts its first vCPU thread as soon as it starts, for the commands that
 * make a machine: the thread's isolate, Node's worker bootstrap and the worker bundle load then
 * run beside the main thread's own start-up (arch discovery, plugins, the machine's set-up)
 * instead of after it. Under TCG that is seconds of a demo run's start (scripts/bench/README.md,
 * `startup`). The thread waits, idle and unref'd, in core's vCPU thread pool, where the
 * machine's first vCPU takes it; a command that fails first just ends with it.
 */
import { DEFAULT_VCPU_POOL_SIZE, prewarmVcpuThreads } from '@kvmts/core';

/** The commands that make a machine (program.ts's COMMANDS; program.test.ts checks the names). */
export const MACHINE_COMMANDS: ReadonlySet<string> = new Set(['run', 'boot', 'dump', 'restore']);

/** The most threads started early: the pool's default size (a larger machine starts the rest itself). */
export const MAX_PREWARMED_THREADS = DEFAULT_VCPU_POOL_SIZE;

/**
 * vCPU threads worth starting early for `argv` (process.argv): one per vCPU for a machine
 * command (`boot --cpus N`; one for the others, whose images decide), none for its --help. A
 * thread started only when the machine is built (after the main thread's start-up) adds its
 * whole start to the command's: seconds under an emulated CPU.
 */
export function vcpuThreadsToPrewarm(argv: readonly string[]): number {
  const command = argv[2];
  if (command === undefined || !MACHINE_COMMANDS.has(command)) return 0;
  const args = argv.slice(3);
  if (args.some((a) => a === '--help' || a === '-h')) return 0;
  return command === 'boot' ? Math.min(cpusOption(args), MAX_PREWARMED_THREADS) : 1;
}

/** `--cpus N` or `--cpus=N` as boot reads it; 1 when absent or not a whole number ≥ 1 (boot then reports it). */
function cpusOption(args: readonly string[]): number {
  let raw: string | undefined;
  args.forEach((a, i) => {
    if (a === '--cpus') raw = args[i + 1];
    else if (a.startsWith('--cpus=')) raw = a.slice('--cpus='.length);
  });
  const n = Number(raw);
  return raw !== undefined && /^[0-9]+$/.test(raw) && n >= 1 ? n : 1;
}

/** Starts those threads. */
export function prewarmForCommand(argv: readonly string[]): void {
  const n = vcpuThreadsToPrewarm(argv);
  if (n === 0) return;
  try {
    prewarmVcpuThreads(n);
  } catch {
    // A bad KVMTS_VCPU_POOL: the machine's set-up reports it by name, as without prewarming.
  }
}
