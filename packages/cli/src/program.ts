import { Command } from 'commander';
import { KvmtsError } from '@kvmts/core';
import { registerRun } from './commands/run';
import { registerCaps } from './commands/caps';
import { registerDump } from './commands/dump';
import { registerBoot } from './commands/boot';
import { registerRestore } from './commands/restore';

/** This package's version, as lerna sets it in package.json (dist/ sits next to it). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const CLI_VERSION: string = (require('../package.json') as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('kvmts').description('hardware-virtualized CPUs on Linux KVM, from Node.js').version(CLI_VERSION);
  registerRun(program);
  registerCaps(program);
  registerDump(program);
  registerBoot(program);
  registerRestore(program);
  return program;
}

/** Run the CLI; typed errors become one clear line and exit code 1 (no stack trace for user errors). */
export async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe();
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof KvmtsError) {
      process.stderr.write(`kvmts: ${e.name}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

/**
 * `kvmts … | head`: once the reader has gone, writing more is pointless and Node would throw
 * EPIPE from a stream event with a stack trace. A C program would die of SIGPIPE, silently;
 * the CLI does the same (the kernel releases the guest's fds and memory with the process).
 */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}
