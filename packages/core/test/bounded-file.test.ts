/**
 * The bounded regular-file reader every file input goes through (files/bounded-file.ts), and
 * restoreMachine's whitelist of config overrides (checked before a file is read).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigError, FileReadFailure, RESTORE_OVERRIDABLE, checkRestoreOverrides, readBoundedFile, readInputFile, restoreMachine } from '@kvmts/core';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-bounded-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function failure(f: () => unknown): FileReadFailure {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FileReadFailure);
    return e as FileReadFailure;
  }
  throw new Error('expected a FileReadFailure');
}

describe('readBoundedFile', () => {
  it('reads a regular file whole, across several read steps', () => {
    const f = path.join(dir, 'big');
    const bytes = new Uint8Array(20 * 1024 * 1024 + 3).map((_, i) => i * 7);
    fs.writeFileSync(f, bytes);
    expect(Buffer.compare(readBoundedFile(f, { limitBytes: bytes.length }), bytes)).toBe(0);
  });

  it('an empty file: refused unless allowed', () => {
    const f = path.join(dir, 'empty');
    fs.writeFileSync(f, '');
    expect(failure(() => readBoundedFile(f, { limitBytes: 1 }))).toMatchObject({ problem: 'empty', path: f, message: `${f} is empty` });
    expect(readBoundedFile(f, { limitBytes: 1, allowEmpty: true })).toHaveLength(0);
  });

  it('a FIFO with no writer is refused at once (opened non-blocking), naming its kind', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(failure(() => readBoundedFile(fifo, { limitBytes: 1 << 20 }))).toMatchObject({ problem: 'not-regular', message: `${fifo} is not a regular file (a FIFO)` });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['/dev/zero', 'not-regular', '/dev/zero is not a regular file (a character device)'],
    ['/', 'not-regular', '/ is not a regular file (a directory)'],
    ['/nonexistent/x', 'missing', 'cannot read /nonexistent/x: ENOENT'],
  ])('%s → %s', (file, problem, message) => {
    expect(failure(() => readBoundedFile(file, { limitBytes: 1 << 20 }))).toMatchObject({ problem, message });
  });

  it('a file over the limit is refused before a byte is read, naming size and limit', () => {
    const f = path.join(dir, 'ten');
    fs.writeFileSync(f, new Uint8Array(10));
    expect(failure(() => readBoundedFile(f, { limitBytes: 9 }))).toMatchObject({ problem: 'too-large', message: `${f} is 10 bytes; the limit is 9` });
  });

  it('a symlink loop is an io failure carrying the fs error', () => {
    const loop = path.join(dir, 'loop');
    fs.symlinkSync(loop, loop);
    const e = failure(() => readBoundedFile(loop, { limitBytes: 1 }));
    expect(e.problem).toBe('io');
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ELOOP');
  });

  it('readInputFile: the same refusals as ConfigErrors for the setting', () => {
    expect(() => readInputFile('--kernel', '/dev/zero', 1 << 20)).toThrow(new ConfigError('--kernel', '/dev/zero is not a regular file (a character device)'));
  });
});

describe('restoreMachine config overrides', () => {
  it('accepts the documented host-side settings', () => {
    expect(RESTORE_OVERRIDABLE).toEqual(['kvmPath', 'stopTimeoutMs', 'plugins', 'unclaimed', 'memoryLimit']);
    expect(checkRestoreOverrides({ stopTimeoutMs: 100, unclaimed: 'error' })).toEqual({ stopTimeoutMs: 100, unclaimed: 'error' });
    expect(checkRestoreOverrides(undefined)).toEqual({});
  });

  it.each([
    ['memory', { memory: '1G' }],
    ['devices', { devices: [] }],
    ['cpus', { cpus: 4 }],
    ['boot', { boot: {} }],
  ])('refuses %s, which comes from the checkpoint, before reading a file', async (key, config) => {
    const e = await restoreMachine('/nonexistent/checkpoint', { config: config as never }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toBe(`config.${key}: a restore cannot change it: it comes from the checkpoint (a restore may override kvmPath, stopTimeoutMs, plugins, unclaimed, memoryLimit)`);
  });
});
