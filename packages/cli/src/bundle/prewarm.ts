/**
 * The bundled CLI starts its first vCPU thread as soon as it starts, for the commands that
 * make a machine: the thread's isolate, Node's worker bootstrap and the worker bundle load then
 * run beside the main thread's own start-up (arch discovery, plugins, the machine's set-up)
 * instead of after it. Under TCG that is seconds of a demo run's start (scripts/bench/README.md,
 * `startup`). The thread waits, idle and unref'd, in core's vCPU thread pool, where the
 * machine's first vCPU takes it; a command that fails first just ends with it.
 */
import { prewarmVcpuThreads } from '@kvmts/core';

/** The commands that make a machine (program.ts's COMMANDS; program.test.ts checks the names). */
export const MACHINE_COMMANDS: ReadonlySet<string> = new Set(['run', 'boot', 'dump', 'restore']);

/** vCPU threads worth starting early for `argv` (process.argv): one for a machine command, none for its --help. */
export function vcpuThreadsToPrewarm(argv: readonly string[]): number {
  const command = argv[2];
  if (command === undefined || !MACHINE_COMMANDS.has(command)) return 0;
  return argv.slice(3).some((a) => a === '--help' || a === '-h') ? 0 : 1;
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
