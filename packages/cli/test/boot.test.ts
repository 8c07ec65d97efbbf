/**
 * `kvmts boot`, host tier: its input checks, the exit-status mapping, the console bridge over
 * a real PL011 receive ring, the arm64 plugin's Linux profile, and the command itself up to the
 * point where it needs KVM (the nested arm64 tier boots a real kernel with it: linux-boot.nested-arm64.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { execFileSync, spawnSync } from 'node:child_process';
import { ConfigError, KvmSystemEvent, SharedReceiveRing, linuxBootProfile, openBootFile, readInputFile, type ConsoleInput } from '@kvmts/core';
import { ARM64_LINUX_CONSOLE, linuxCmdline, pl011Layout, pl011PushInput } from '@kvmts/arch-arm64';
import { ConsoleBridge, isDevNull } from '../src/console-bridge';
import { bootOutcome } from '../src/commands/boot';

const BIN = path.join(__dirname, '..', 'dist', 'bin.js');
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readInputFile', () => {
  it('reads a regular file within the limit', () => {
    const f = path.join(dir, 'k');
    fs.writeFileSync(f, Buffer.from([1, 2, 3]));
    expect(Array.from(readInputFile('--kernel', f, 3))).toEqual([1, 2, 3]);
  });
  it.each([
    ['/dev/zero', /\/dev\/zero is not a regular file \(a character device\)/],
    ['/', /\/ is not a regular file \(a directory\)/],
    ['/nonexistent/kernel', /cannot read \/nonexistent\/kernel: ENOENT/],
  ])('refuses %s by name', (file, message) => {
    expect(() => readInputFile('--kernel', file, 1 << 20)).toThrow(ConfigError);
    expect(() => readInputFile('--kernel', file, 1 << 20)).toThrow(message);
  });
  it('refuses a FIFO without opening it (no hang) and an oversized or empty file', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => readInputFile('--initrd', fifo, 1 << 20)).toThrow(/--initrd: .*fifo is not a regular file \(a FIFO\)/);
    const big = path.join(dir, 'big');
    fs.writeFileSync(big, Buffer.alloc(10));
    expect(() => readInputFile('--kernel', big, 9)).toThrow(/big is 10 bytes; the limit is 9/);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    expect(() => readInputFile('--kernel', empty, 9)).toThrow(/empty is empty/);
  });
});

describe('bootOutcome', () => {
  it('maps each way a guest ends to an exit status', () => {
    expect(bootOutcome({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n }).status).toBe(0);
    expect(bootOutcome({ reason: 'system-event', event: KvmSystemEvent.RESET, flags: 0n })).toEqual({ status: 2, summary: 'the guest reset (a kernel panic with panic=-1, or a reboot)' });
    expect(bootOutcome({ reason: 'poweroff', status: 3 })).toEqual({ status: 3, summary: 'the guest powered off (status 3)' });
    expect(bootOutcome({ reason: 'error', error: new ConfigError('x', 'bad') }).status).toBe(1);
    expect(bootOutcome({ reason: 'halted' }).status).toBe(1);
  });
});

describe('arm64 linuxBoot profile', () => {
  it('adds the PL011 console and panic=-1 unless given', () => {
    expect(linuxCmdline()).toBe('console=ttyAMA0 panic=-1');
    expect(linuxCmdline(' quiet  rdinit=/bin/sh ')).toBe('console=ttyAMA0 quiet rdinit=/bin/sh panic=-1');
    expect(linuxCmdline('console=hvc0 panic=5')).toBe('console=hvc0 panic=5');
  });
  it('builds a kernel boot with a PL011 named as the console device', () => {
    const kernel = new Uint8Array(64);
    const profile = linuxBootProfile('arm64', { kernel, append: 'quiet' });
    expect(profile.consoleDevice).toBe(ARM64_LINUX_CONSOLE);
    expect(profile.cmdline).toBe('console=ttyAMA0 quiet panic=-1');
    expect(profile.boot).toEqual({ kind: 'kernel', image: kernel, cmdline: 'console=ttyAMA0 quiet panic=-1' });
    expect(profile.devices).toEqual([expect.objectContaining({ type: 'pl011', name: ARM64_LINUX_CONSOLE })]);
  });
  it('hands arm64 the kernel and initrd still in their files (its loader reads them into guest RAM); x86 gets them read, to release', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-files-'));
    try {
      fs.writeFileSync(path.join(dir, 'k'), Buffer.alloc(64, 1));
      fs.writeFileSync(path.join(dir, 'i'), Buffer.alloc(10, 2));
      const kernel = openBootFile('--kernel', path.join(dir, 'k'), 1 << 20);
      const initrd = openBootFile('--initrd', path.join(dir, 'i'), 1 << 20);
      const arm64 = linuxBootProfile('arm64', { kernel, initrd, append: 'quiet' });
      expect(arm64.boot).toEqual({ kind: 'kernel', image: kernel, initrd, cmdline: 'console=ttyAMA0 quiet panic=-1' });
      expect(arm64.readInputs).toBeUndefined();
      const x86 = linuxBootProfile('x86_64', { kernel, initrd, append: 'quiet' });
      expect(x86.boot).toEqual({ kind: 'kernel', image: new Uint8Array(64).fill(1), initrd: new Uint8Array(10).fill(2), cmdline: 'console=ttyS0 quiet panic=-1' });
      const boot = x86.boot as { image: Uint8Array; initrd: Uint8Array };
      expect(x86.readInputs).toHaveLength(2);
      expect(x86.readInputs![0]).toBe(boot.image);
      expect(x86.readInputs![1]).toBe(boot.initrd);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names a plugin that cannot boot Linux', () => {
    const plugin = path.join(__dirname, 'fixtures', 'no-linux-arch-plugin.js');
    expect(() => linuxBootProfile('no-linux', { kernel: new Uint8Array(1) }, { plugins: [plugin] })).toThrow(/the no-linux plugin \(.*no-linux-arch-plugin\.js\) cannot boot a Linux kernel/);
  });
  it('finds the x86 profile: COM1 as the console, the in-kernel irqchip', () => {
    const kernel = new Uint8Array(64);
    const profile = linuxBootProfile('x86_64', { kernel, append: 'quiet' });
    expect(profile).toMatchObject({ consoleDevice: 'com1', cmdline: 'console=ttyS0 quiet panic=-1', archOptions: { irqchip: 'kernel' } });
    expect(profile.boot).toEqual({ kind: 'kernel', image: kernel, cmdline: 'console=ttyS0 quiet panic=-1' });
  });
});

describe('isDevNull: no console input is read from /dev/null', () => {
  it('is true for /dev/null and false for a regular file, another character device and a closed fd', () => {
    const fds: number[] = [];
    const open = (p: string) => {
      const fd = fs.openSync(p, 'r');
      fds.push(fd);
      return fd;
    };
    try {
      expect(isDevNull(open('/dev/null'))).toBe(true);
      expect(isDevNull(open(__filename))).toBe(false);
      expect(isDevNull(open('/dev/zero'))).toBe(false);
      const closed = open(__filename);
      fs.closeSync(closed);
      fds.splice(fds.indexOf(closed), 1);
      expect(isDevNull(closed)).toBe(false);
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  });

  it("in a child process: stdin ignored (what the benchmarks give kvmts) is /dev/null, a pipe is not", () => {
    const probe = (stdin: 'ignore' | 'pipe') =>
      spawnSync(process.execPath, ['-e', `
        const { isDevNull } = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist', 'console-bridge.js'))});
        process.stdout.write(JSON.stringify({ devNull: isDevNull(0) }));`], { stdio: [stdin, 'pipe', 'pipe'], encoding: 'utf8', input: stdin === 'pipe' ? 'typed\n' : undefined });
    expect(JSON.parse(probe('ignore').stdout)).toEqual({ devNull: true });
    expect(JSON.parse(probe('pipe').stdout)).toEqual({ devNull: false });
  });
});

describe('ConsoleBridge over a real PL011 receive ring', () => {
  function ring(bytes: number): { device: ConsoleInput; drain: () => number[] } {
    const layout = pl011Layout(bytes);
    const shared = new SharedArrayBuffer(layout.byteLength);
    const reader = new SharedReceiveRing(layout.bind(shared));
    return {
      device: { pushInput: (d) => pl011PushInput(shared, d) },
      drain: () => {
        const out: number[] = [];
        while (reader.count() > 0) out.push(reader.pop());
        return out;
      },
    };
  }

  it('pipes input, holding back what a full queue does not take, and loses nothing', async () => {
    const { device, drain } = ring(16);
    const input = new PassThrough() as unknown as NodeJS.ReadStream;
    const bridge = new ConsoleBridge({ input, device, onQuit: () => undefined });
    const sent = Array.from({ length: 40 }, (_, i) => i + 0x20);
    (input as unknown as PassThrough).write(Buffer.from(sent));
    const got: number[] = [];
    for (let i = 0; i < 50 && got.length < sent.length; i++) {
      await new Promise((r) => setTimeout(r, 10));
      got.push(...drain()); // the guest reading UARTDR
    }
    bridge.close();
    expect(got).toEqual(sent);
  });

  it('on a terminal: Ctrl-A x quits, Ctrl-A Ctrl-A is one Ctrl-A, raw mode is restored', async () => {
    const { device, drain } = ring(64);
    const modes: boolean[] = [];
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (on: boolean) => modes.push(on) }) as unknown as NodeJS.ReadStream;
    let quits = 0;
    const bridge = new ConsoleBridge({ input, device, onQuit: () => quits++ });
    (input as unknown as PassThrough).write(Buffer.from([0x61, 0x01, 0x01, 0x62, 0x01, 0x78, 0x63]));
    await new Promise((r) => setTimeout(r, 20));
    bridge.close();
    expect(drain()).toEqual([0x61, 0x01, 0x62]);
    expect(quits).toBe(1);
    expect(modes).toEqual([true, false]);
  });
});

describe('kvmts boot (command line)', () => {
  it('says which option is wrong, exit status 1, no stack trace', () => {
    const r = spawnSync(process.execPath, [BIN, 'boot', '--kernel', '/dev/zero'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('kvmts: ConfigError: --kernel: /dev/zero is not a regular file (a character device)');
    const m = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--arch', 'arm64', '--mem', 'lots'], { encoding: 'utf8' });
    expect(m.stderr.trim()).toBe("error: option '--mem <size>' argument 'lots' is invalid. --mem must be a size such as 64M or 2G, got 'lots'");
    const e = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--ready-marker', ''], { encoding: 'utf8' });
    expect([e.status, e.stderr.trim()]).toEqual([1, 'kvmts: ConfigError: --ready-marker: must not be empty']);
  });

  it('--vcpu-thread: main takes one vCPU, and only the three places are known', () => {
    const r = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--arch', 'arm64', '--vcpu-thread', 'main', '--cpus', '2'], { encoding: 'utf8' });
    expect([r.status, r.stderr.trim()]).toEqual([1, 'kvmts: ConfigError: --vcpu-thread: main runs one vCPU on this thread; --cpus is 2 (use worker or auto)']);
    const e = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--vcpu-thread', 'elsewhere'], { encoding: 'utf8' });
    expect(e.stderr.trim()).toBe("error: option '--vcpu-thread <where>' argument 'elsewhere' is invalid. --vcpu-thread must be one of auto, main, worker, got 'elsewhere'");
    expect(e.status).toBe(1);
  });

  it('--memory-steps is part of the JSON summary: without --json it is refused by name', () => {
    const r = spawnSync(process.execPath, [BIN, 'boot', '--kernel', __filename, '--arch', 'arm64', '--memory-steps'], { encoding: 'utf8' });
    expect([r.status, r.stderr.trim()]).toEqual([1, 'kvmts: ConfigError: --memory-steps: needs --json (the steps are part of its JSON summary)']);
  });
});
