/**
 * Host tier: every numeric CLI option is checked before anything is allocated or opened (the
 * built CLI, run as a user would: these fail before /dev/kvm, which this host lacks), and the
 * one wording of how a run ended that every command prints (exit-summary.ts).
 */
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, GuestError, KvmError } from '@kvmts/core';
import { describeExit, exitJson } from '../src/exit-summary';

const BIN = path.join(__dirname, '..', 'dist', 'bin.js');

function kvmts(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, KVMTS_MEMORY_LIMIT: '8G' }, timeout: 30_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('numeric CLI options', () => {
  it.each([
    [['run', '--memory', '1T'], "error: option '--memory <size>' argument '1T' is invalid. --memory 1T: 1099511627776 bytes (1048576 MiB) of guest memory requested; the bound is 8589934592 bytes (8192 MiB), KVMTS_MEMORY_LIMIT (\"8G\")"],
    [['dump', '--memory', 'lots'], "error: option '--memory <size>' argument 'lots' is invalid. --memory must be a size such as 64M or 2G, got 'lots'"],
    [['boot', '--kernel', '/dev/zero', '--mem', '9G'], "error: option '--mem <size>' argument '9G' is invalid. --mem 9G: 9663676416 bytes (9216 MiB) of guest memory requested; the bound is 8589934592 bytes"],
    [['run', '--bytes', '1e15'], "error: option '--bytes <n>' argument '1e15' is invalid. --bytes must be at most 268435456 (the demo buffer limit), got '1e15'"],
    [['run', '--bytes', '200000000', '--memory', '64M'], 'kvmts: ConfigError: --bytes: 200000000 bytes at 0x100000 do not fit in 64M of guest memory: raise --memory or lower --bytes'],
    [['dump', '--bytes', '70000000'], 'kvmts: ConfigError: --bytes: 70000000 bytes at 0x100000 do not fit in 64M of guest memory: raise --memory or lower --bytes'],
    [['dump', '--exits', '0'], "error: option '--exits <n>' argument '0' is invalid. --exits must be a positive integer, got '0'"],
    [['run', '--checkpoint-at', '-3'], "error: option '--checkpoint-at <when>' argument '-3' is invalid. --checkpoint-at must be 'm5op', 'none' or an exit count, got '-3'"],
    [['boot', '--kernel', '/dev/zero', '--cpus', '1.5'], "error: option '--cpus <n>' argument '1.5' is invalid. --cpus must be a positive integer, got '1.5'"],
  ])('kvmts %j is refused by name, exit status 1', (args, message) => {
    const r = kvmts(...args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('how a run ended, worded once', () => {
  const error = new GuestError('triple-fault', 0, 'the guest triple-faulted', 'rip: 0x8000');
  it.each([
    [{ reason: 'poweroff', status: 3 }, 'powered off with status 3'],
    [{ reason: 'error', error }, 'failed: vCPU 0: the guest triple-faulted'],
    [{ reason: 'm5-exit', vcpuId: 0, code: 0, delayNs: 5n }, 'm5 exit (delay 5 ns)'],
    [{ reason: 'm5op-end', call: { op: 'checkpoint', func: 0x43 } }, 'stopped at m5op checkpoint (0x43)'],
    [{ reason: 'exit-limit' }, 'stopped (exit-limit)'],
    [{ reason: 'stopped' }, 'stopped (stopped)'],
  ])('%j → %s', (exit, text) => {
    expect(describeExit(exit as never)).toBe(text);
  });

  it('JSON keeps what a program switches on: the class, the kind, code or setting', () => {
    expect(exitJson({ reason: 'error', error })).toEqual({ reason: 'error', name: 'GuestError', message: 'vCPU 0: the guest triple-faulted', kind: 'triple-fault' });
    expect(exitJson({ reason: 'error', error: new KvmError('KVM_RUN', 14, 'EFAULT') })).toEqual({ reason: 'error', name: 'KvmError', message: 'KVM_RUN failed: EFAULT (errno 14)', code: 'EFAULT' });
    expect(exitJson({ reason: 'error', error: new ConfigError('maxExits', 'bad') })).toEqual({ reason: 'error', name: 'ConfigError', message: 'maxExits: bad', setting: 'maxExits' });
    expect(exitJson({ reason: 'poweroff', status: 0 })).toEqual({ reason: 'poweroff', status: 0 });
  });
});
