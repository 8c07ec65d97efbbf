import { Command } from 'commander';
import { KvmtsError } from '@kvmts/core';
import { registerRun } from './commands/run';
import { registerCaps } from './commands/caps';
import { registerDump } from './commands/dump';
import { registerBoot } from './commands/boot';

/** This package's version, as lerna sets it in package.json (dist/ sits next to it). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const CLI_VERSION: string = (require('../package.json') as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('kvmts').description('hardware-virtualized CPUs on Linux KVM, from Node.js').version(CLI_VERSION);
  registerRun(program);
  registerCaps(program);
  registerDump(program);
  registerBoot(program);
  return program;
}

/** Run the CLI; typed errors become one clear line and exit code 1 (no stack trace for user errors). */
export async function main(argv: string[]): Promise<void> {
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
