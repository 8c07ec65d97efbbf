/**
 * `boot: { kind: 'kernel' }` as a run-time config hands it over (loader/kernel-boot.ts,
 * readKernelBoot): each field checked and named, files read from their paths.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '@kvmts/core';
import { readKernelBoot } from '@kvmts/arch-x86';

function settingOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).setting;
  }
  throw new Error('expected a ConfigError');
}

describe('readKernelBoot', () => {
  it('names the bad field', () => {
    expect(settingOf(() => readKernelBoot(null))).toBe('boot');
    expect(settingOf(() => readKernelBoot({ kind: 'kernel', image: 42 }))).toBe('boot.image');
    expect(settingOf(() => readKernelBoot({ kind: 'kernel', image: new Uint8Array(1), initrd: [1, 2] }))).toBe('boot.initrd');
    expect(settingOf(() => readKernelBoot({ kind: 'kernel', image: new Uint8Array(1), cmdline: 7 }))).toBe('boot.cmdline');
    // A typo is an error, not a silently ignored option (`append` is the CLI's word, `cmdline` the config's).
    expect(settingOf(() => readKernelBoot({ kind: 'kernel', image: new Uint8Array(1), append: 'quiet' }))).toBe('boot.append');
    expect(settingOf(() => readKernelBoot({ kind: 'kernel', image: '/nonexistent/kvmts-kernel' }))).toBe('boot.image');
  });

  it('reads files through the bounded reader: a device, a FIFO or a directory is refused at once, naming the path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-kernel-boot-'));
    try {
      const fifo = path.join(dir, 'fifo');
      spawnSync('mkfifo', [fifo]);
      for (const [file, setting] of [['/dev/zero', 'boot.image'], [fifo, 'boot.initrd'], [dir, 'boot.image']] as const) {
        const boot = setting === 'boot.image' ? { kind: 'kernel', image: file } : { kind: 'kernel', image: new Uint8Array(1), initrd: file };
        let error: unknown;
        try {
          readKernelBoot(boot);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).setting).toBe(setting);
        expect((error as Error).message).toContain(file);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the image and initrd from their paths and passes bytes through', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-kernel-boot-'));
    try {
      fs.writeFileSync(path.join(dir, 'k'), Buffer.from([1, 2, 3]));
      fs.writeFileSync(path.join(dir, 'i'), Buffer.from([4, 5]));
      const read = readKernelBoot({ kind: 'kernel', image: path.join(dir, 'k'), initrd: path.join(dir, 'i'), cmdline: 'x' });
      expect(read).toEqual({ image: new Uint8Array([1, 2, 3]), initrd: new Uint8Array([4, 5]), cmdline: 'x' });
      const bytes = new Uint8Array([9]);
      expect(readKernelBoot({ kind: 'kernel', image: bytes }).image).toBe(bytes);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
