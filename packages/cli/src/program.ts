import { Command } from 'commander';
import { KvmtsError } from '@kvmts/core';
import { installStdioRules } from './stdio';

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * Each command's module, loaded only when needed: `run` and `dump` pull in the x86 plugin, a
 * third of the CLI's modules, which `kvmts boot` on arm64 has no use for (in the emulated arm64
 * host every module file costs ~40 ms: scripts/bench/README.md, `boot`).
 */
const COMMANDS: Record<string, () => (program: Command) => void> = {
  run: () => (require('./commands/run') as typeof import('./commands/run')).registerRun,
  caps: () => (require('./commands/caps') as typeof import('./commands/caps')).registerCaps,
  dump: () => (require('./commands/dump') as typeof import('./commands/dump')).registerDump,
  boot: () => (require('./commands/boot') as typeof import('./commands/boot')).registerBoot,
  restore: () => (require('./commands/restore') as typeof import('./commands/restore')).registerRestore,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** This package's version, as lerna sets it in package.json (dist/ sits next to it). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const CLI_VERSION: string = (require('../package.json') as { version: string }).version;

/**
 * The CLI. Given the command line, a known command name in it registers that command alone
 * (its --help included); otherwise (no command, `help`, a typo) every command is registered.
 */
export function buildProgram(argv?: readonly string[]): Command {
  const program = new Command('kvmts').description('hardware-virtualized CPUs on Linux KVM, from Node.js').version(CLI_VERSION);
  const name = argv?.[2];
  const names = name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  for (const n of names) COMMANDS[n]()(program);
  return program;
}

/** Run the CLI; typed errors become one clear line and exit code 1 (no stack trace for user errors). */
export async function main(argv: string[]): Promise<void> {
  // `kvmts … | head`: a reader that went away ends the CLI quietly (./stdio.ts), and the boot
  // path writes without Node's stdio streams while none was made.
  installStdioRules();
  try {
    await buildProgram(argv).parseAsync(argv);
  } catch (e) {
    if (e instanceof KvmtsError) {
      process.stderr.write(`kvmts: ${e.name}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
