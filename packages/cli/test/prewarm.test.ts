/**
 * The bundled CLI's early vCPU threads (src/bundle/prewarm.ts), host tier: which command lines
 * start how many (golden), that the machine commands are the CLI's own, that threads started
 * before core loads really end up idle in core's pool (a child process, core's real worker),
 * and the shared-files buffer that hands such a thread the CLI's resolved packages.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { MACHINE_COMMANDS, publishSharedFiles, readSharedFiles, vcpuThreadsToPrewarm } from '../src/bundle/prewarm';
import { CLI_COMMAND_PROFILES } from '../src/bundle/code-cache';
import { buildProgram } from '../src/program';

const CLI = path.resolve(__dirname, '..');

describe('prewarming a vCPU thread', () => {
  it('starts one per vCPU for a command that makes a machine (core bounds them by its pool), none for its --help, another command or a vCPU on the main thread', () => {
    const cases: [string[], number][] = [
      [['node', 'kvmts', 'run', '--prebuilt'], 1],
      // One vCPU runs on the CLI's thread unless --vcpu-thread worker says otherwise.
      [['node', 'kvmts', 'boot', '--kernel', 'K'], 0],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread', 'worker'], 1],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread=worker', '--cpus', '2'], 2],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread', 'main'], 0],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread', 'auto', '--cpus', '2'], 2],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread', 'elsewhere', '--cpus', '2'], 0],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '2'], 2],
      [['node', 'kvmts', 'boot', '--cpus=3', '--kernel', 'K'], 3],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '64'], 64],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', 'two'], 0],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '0'], 0],
      [['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus'], 0],
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

  it('leaves threads started before core loaded idle in core`s pool (as many as the pool keeps), none for --help, without keeping the process alive', () => {
    // bin.js's order: the threads start first (prewarm.js, core's vcpu-thread-start), core loads after.
    const idleAfter = (argv: string[], env: Record<string, string> = {}) => {
      const script = `const started = require(${JSON.stringify(path.join(CLI, 'dist', 'bundle', 'prewarm.js'))}).startEarlyVcpuThreadsFor(${JSON.stringify(argv)}, require('path').join(require.resolve('@kvmts/core'), '..', 'machine', 'vcpu-worker.js'));
const core = require('@kvmts/core');
core.prewarmVcpuThreads(0); // the pool adopts the early threads when the machine asks for threads
process.stdout.write(JSON.stringify([started, core.idleVcpuThreadCount()]));`;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: CLI, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0); // the idle threads are unref'd: the process ended by itself
      return JSON.parse(r.stdout) as [number, number];
    };
    expect(idleAfter(['node', 'kvmts', 'run', '--prebuilt'])).toEqual([1, 1]);
    expect(idleAfter(['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '2'])).toEqual([2, 2]);
    expect(idleAfter(['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '9'])).toEqual([4, 4]);
    expect(idleAfter(['node', 'kvmts', 'boot', '--kernel', 'K', '--cpus', '9'], { KVMTS_VCPU_POOL: '1' })).toEqual([1, 1]);
    // A malformed setting starts none: the machine's set-up names it, as without early threads.
    expect(idleAfter(['node', 'kvmts', 'boot', '--kernel', 'K', '--vcpu-thread', 'worker'], { KVMTS_VCPU_YOUNG_GEN_MB: 'lots' })).toEqual([0, 0]);
    expect(idleAfter(['node', 'kvmts', 'run', '--help'])).toEqual([0, 0]);
  });

  it('hands the resolved files over in one piece, once, and nothing before they are there', () => {
    const buffer = new SharedArrayBuffer(64 * 1024);
    expect(readSharedFiles(buffer)).toBeUndefined();
    expect(readSharedFiles(undefined)).toBeUndefined();
    const files = { '@kvmts/core': '/x/core/dist/index.js', '@kvmts/dev-gic/v2': null, 'caf\u00e9': '/\u00e9/index.js' };
    expect(publishSharedFiles(buffer, files)).toBe(true);
    expect(readSharedFiles(buffer)).toEqual(files);
    expect(publishSharedFiles(buffer, { other: null })).toBe(false);
    expect(readSharedFiles(buffer)).toEqual(files);
    // Too large for the buffer: not written (the threads then resolve the packages themselves).
    const small = new SharedArrayBuffer(32);
    expect(publishSharedFiles(small, files)).toBe(false);
    expect(readSharedFiles(small)).toBeUndefined();
  });
});
