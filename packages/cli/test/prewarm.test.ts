/**
 * The bundled CLI's early vCPU thread (src/bundle/prewarm.ts), host tier: which command lines
 * start one (golden), that the machine commands are the CLI's own, and that prewarming really
 * puts a started thread into core's pool (a child process, core's real worker).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MACHINE_COMMANDS, vcpuThreadsToPrewarm } from '../src/bundle/prewarm';
import { CLI_COMMAND_PROFILES } from '../src/bundle/code-cache';
import { buildProgram } from '../src/program';

const CLI = path.resolve(__dirname, '..');

describe('prewarming a vCPU thread', () => {
  it('starts one per vCPU for a command that makes a machine (up to 4), none for its --help or another command', () => {
    const cases: [string[], number][] = [
      [['node', 'kvmts', 'run', '--prebuilt'], 1],
      [['node', 'kvmts', 'boot', '--kernel', 'K'], 1],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '2'], 2],
      [['node', 'kvmts', 'boot', '--cpus=3', '--kernel', 'K'], 3],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '64'], 4],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', 'two'], 1],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '0'], 1],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus'], 1],
      [['node', 'kvmts', 'dump', '--prebuilt'], 1],
      [['node', 'kvmts', 'restore', 'dir'], 1],
      [['node', 'kvmts', 'run', '--help'], 0],
      [['node', 'kvmts', 'boot', '-h'], 0],
      [['node', 'kvmts', 'caps'], 0],
      [['node', 'kvmts', '--help'], 0],
      [['node', 'kvmts'], 0],
    ];
    for (const [argv, n] of cases) expect([argv.join(' '), vcpuThreadsToPrewarm(argv)]).toEqual([argv.join(' '), n]);
  });

  it('names only commands the CLI has, and the code cache knows every command as a profile', () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining([...MACHINE_COMMANDS]));
    expect([...CLI_COMMAND_PROFILES].sort()).toEqual([...names].sort());
  });

  it('leaves a started thread idle in core`s pool for the machine (and none for --help), without keeping the process alive', () => {
    const idleAfter = (argv: string[]) => {
      const script = `const core = require('@kvmts/core');
require(${JSON.stringify(path.join(CLI, 'dist', 'bundle', 'prewarm.js'))}).prewarmForCommand(${JSON.stringify(argv)});
process.stdout.write(String(core.idleVcpuThreadCount()));`;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: CLI, encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0); // the idle thread is unref'd: the process ended by itself
      return Number(r.stdout);
    };
    expect(idleAfter(['node', 'kvmts', 'run', '--prebuilt'])).toBe(1);
    expect(idleAfter(['node', 'kvmts', 'run', '--help'])).toBe(0);
  });
});
