/**
 * CLI conventions, host tier: a closed stdout pipe ends the command quietly (no EPIPE stack
 * trace), and SIGINT/SIGTERM become a clean stop with status 130/143 (real signals to this
 * process). The KVM side — a demo run stopped by its AbortSignal — is in cli.kvm.test.ts.
 */
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { SignalStop } from '../src/signals';

const BIN = path.join(__dirname, '..', 'dist', 'bin.js');

describe('kvmts with its stdout pipe closed (`kvmts … | head`)', () => {
  it.each(['--help', 'boot --help'])('kvmts %s ends with status 0 and says nothing', async (args) => {
    const child = spawn(process.execPath, [BIN, ...args.split(' ')]);
    child.stdout.destroy(); // the reader is gone before the first write
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});

/** A child process holding a SignalStop, so the real signal hits it and not jest. */
const CHILD = `
const { SignalStop } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'signals.js'))});
const stop = new SignalStop();
const before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
stop.signal.addEventListener('abort', () => {
  const after = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
  process.stdout.write(JSON.stringify({ reason: stop.signal.reason, status: stop.exitStatus, before, after }));
  process.exit(0);
});
process.stdout.write('ready\\n');
setTimeout(() => {}, 60000);
`;

describe('SignalStop', () => {
  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s aborts the run, says so in one line, reports status %d, and is caught only once', async (sig, status) => {
    const child = spawn(process.execPath, ['-e', CHILD]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout === 'ready\n') child.kill(sig);
    });
    await new Promise((resolve) => child.on('close', resolve));
    const report = JSON.parse(stdout.slice('ready\n'.length)) as { reason: string; status: number; before: Record<string, number>; after: Record<string, number> };
    expect(report).toEqual({ reason: sig, status, before: { SIGINT: 1, SIGTERM: 1 }, after: { SIGINT: 0, SIGTERM: 0 } });
    expect(stderr).toBe(`kvmts: ${sig}: stopping the guest\n`);
  });
});
