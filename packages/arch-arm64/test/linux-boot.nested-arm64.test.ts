/**
 * Nested arm64 tier: kvmts boots Debian's arm64 kernel (the emulated host's own, handed in as
 * $KVMTS_GUEST_KERNEL by the nested runner) with a busybox initramfs to userspace, as an L2
 * guest of a kvmts machine: its Image loader and FDT, the in-kernel vGICv3 and timer, PSCI, and
 * the PL011 as the console. The busybox is the emulated host's own (/bin/busybox, static arm64).
 * `quiet` keeps the console short: every PL011 byte is an MMIO exit here (testing-and-ci.md §4.1.1).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ConfigError, KvmSystemEvent, createMachine, type Machine } from '@kvmts/core';
import { parseImageHeader, pl011, type Arm64Boot } from '@kvmts/arch-arm64';
import { newcArchive } from './support/newc';

const MARKER = 'kvmts-l2: userspace reached';
const INIT = `#!/bin/busybox sh
/bin/busybox echo "${MARKER} on $(/bin/busybox uname -m), kernel $(/bin/busybox uname -r)"
/bin/busybox poweroff -f
`;

/** A busybox initramfs whose /init is `init`. */
function initramfs(init: string): Uint8Array {
  return newcArchive([
    { path: 'bin', kind: 'dir' },
    { path: 'bin/busybox', kind: 'file', mode: 0o755, data: fs.readFileSync('/bin/busybox') },
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from(init) },
  ]);
}

function guestKernel(): Uint8Array {
  const file = process.env.KVMTS_GUEST_KERNEL;
  if (!file) throw new ConfigError('KVMTS_GUEST_KERNEL', 'unset: this suite runs inside the nested arm64 host (npm run test:nested:arm64)');
  return fs.readFileSync(file);
}

describe('nested arm64: a Linux guest booted by kvmts', () => {
  let machine: Machine<Arm64Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it("boots Debian's arm64 kernel with a busybox initramfs to userspace, and powers off through PSCI", async () => {
    const image = guestKernel();
    expect(parseImageHeader(image)).toBeDefined();
    const initrd = initramfs(INIT);
    let console = '';
    machine = await createMachine<Arm64Boot>(
      {
        arch: 'arm64',
        memory: '256M',
        devices: [pl011()],
        boot: { kind: 'kernel', image, initrd, cmdline: 'console=ttyAMA0 quiet panic=-1' },
      },
      { console: (bytes) => (console += Buffer.from(bytes).toString('latin1')) },
    );
    const t0 = Date.now();
    const exit = await machine.run();
    const seconds = (Date.now() - t0) / 1000;
    process.stdout.write(`arm64 L2 Linux: userspace and power-off after ${seconds.toFixed(1)} s; console:\n${console}\n`);
    expect(console).toContain(`${MARKER} on aarch64`);
    expect(exit).toEqual({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n });
  }, 240_000);

  it('with 2 vCPUs: both come up (PSCI CPU_ON), a command runs on them and its output comes back', async () => {
    const init = `#!/bin/busybox sh
/bin/busybox echo "kvmts-l2: nproc=$(/bin/busybox nproc) sum=$((6 * 7))"
/bin/busybox poweroff -f
`;
    let console = '';
    machine = await createMachine<Arm64Boot>(
      { arch: 'arm64', memory: '256M', cpus: 2, devices: [pl011()], boot: { kind: 'kernel', image: guestKernel(), initrd: initramfs(init), cmdline: 'console=ttyAMA0 quiet panic=-1' } },
      { console: (bytes) => (console += Buffer.from(bytes).toString('latin1')) },
    );
    const exit = await machine.run();
    expect(console).toContain('kvmts-l2: nproc=2 sum=42');
    expect(exit).toEqual({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n });
  }, 240_000);

  it('`kvmts boot` picks the arm64 plugin on this host: a command typed on its console runs, --json reports the ready time, power-off is status 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-boot-'));
    try {
      const initrd = path.join(dir, 'initrd.cpio');
      fs.writeFileSync(initrd, initramfs(`#!/bin/busybox sh
/bin/busybox echo "kvmts-l2: type a command"
read -r line
eval "$line"
/bin/busybox poweroff -f
`));
      const bin = path.resolve(__dirname, '..', '..', 'cli', 'dist', 'bin.js');
      const child = spawn(process.execPath, [bin, 'boot', '--kernel', process.env.KVMTS_GUEST_KERNEL ?? '', '--initrd', initrd,
        '--append', 'quiet', '--mem', '256M', '--cpus', '2', '--json', '--ready-marker', 'kvmts-l2: type a command'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('latin1');
        // The console (stderr with --json): answer the prompt once, as a user at the keyboard would.
        if (stderr.includes('type a command') && !child.stdin.writableEnded) child.stdin.end('/bin/busybox echo "typed: $((6 * 7)) on $(/bin/busybox nproc) cpus"\n');
      });
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      process.stdout.write(`kvmts boot --json: ${stdout}`);
      expect(stderr).toContain('typed: 42 on 2 cpus');
      expect(status).toBe(0);
      const summary = JSON.parse(stdout) as { arch: string; status: number; cmdline: string; readyMs: number; wallMs: number; summary: string };
      expect(summary).toMatchObject({ arch: 'arm64', status: 0, cmdline: 'console=ttyAMA0 quiet panic=-1', summary: 'the guest powered off' });
      expect(summary.readyMs).toBeGreaterThan(0);
      expect(summary.readyMs).toBeLessThan(summary.wallMs);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
