/**
 * The CLI registers only the command being run, so `kvmts boot` does not load the x86 plugin
 * that `run` and `dump` need; with no command, `help` or an unknown name, all are there.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { buildProgram } from '../src/program';

const names = (argv?: string[]): string[] => buildProgram(argv).commands.map((c) => c.name());

describe('kvmts command registration', () => {
  it('a known command name registers that command alone', () => {
    expect(names(['node', 'kvmts', 'boot', '--kernel', 'x'])).toEqual(['boot']);
    expect(names(['node', 'kvmts', 'dump'])).toEqual(['dump']);
  });

  it('no command, help, an option or an unknown name register every command', () => {
    const all = ['run', 'caps', 'dump', 'boot', 'restore'];
    expect(names()).toEqual(all);
    expect(names(['node', 'kvmts'])).toEqual(all);
    expect(names(['node', 'kvmts', 'help', 'boot'])).toEqual(all);
    expect(names(['node', 'kvmts', '--version'])).toEqual(all);
    expect(names(['node', 'kvmts', 'bot'])).toEqual(all);
    expect(names(['node', 'kvmts', 'toString'])).toEqual(all);
  });

  it('the built CLI loads no @kvmts/arch-x86 module for `boot`, and does for `run`', () => {
    const program = path.resolve(__dirname, '..', 'dist', 'program.js');
    const x86Modules = (command: string): number => Number(execFileSync(process.execPath, ['-e', `
      require('reflect-metadata');
      require(${JSON.stringify(program)}).buildProgram(['node', 'kvmts', ${JSON.stringify(command)}]);
      process.stdout.write(String(Object.keys(require.cache).filter((f) => f.includes('arch-x86')).length));
    `], { encoding: 'utf8' }));
    expect(x86Modules('boot')).toBe(0);
    expect(x86Modules('run')).toBeGreaterThan(10);
  });
});
