/**
 * Nested arm64 tier (issue #10's Linux proof): Debian's arm64 kernel booted by kvmts on
 * @kvmts/dev-gic's in-kernel vGICv3 and the in-kernel timer, checkpointed while its userspace
 * runs — a loop sleeping on timer interrupts — and restored in a fresh process: it keeps
 * running from where it was (the ticks continue, no second boot), which it could not without
 * the GIC's state (every sleep waits for a timer PPI), and a command run after the restore
 * prints its output.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, KvmSystemEvent, createMachine, decodeSection, newcArchive } from '@kvmts/core';
import { pl011, type Arm64Boot } from '@kvmts/arch-arm64';
import { DEV_GIC_MODULE } from '@kvmts/dev-gic';

const TICKS = 16;
const INIT = `#!/bin/busybox sh
/bin/busybox echo "kvmts-l2: up"
i=0
while [ $i -lt ${TICKS} ]; do /bin/busybox sleep 0.5; i=$((i + 1)); /bin/busybox echo "tick $i"; done
/bin/busybox echo "kvmts-l2: after $i ticks, $(/bin/busybox uname -m) computes $((6 * 7))"
/bin/busybox poweroff -f
`;
const CHILD = path.join(__dirname, 'fixtures', 'linux-restore-child.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function guestKernel(): Uint8Array {
  const file = process.env.KVMTS_GUEST_KERNEL;
  if (!file) throw new ConfigError('KVMTS_GUEST_KERNEL', 'unset: this suite runs inside the nested arm64 host');
  return fs.readFileSync(file);
}

const initramfs = () =>
  newcArchive([
    { path: 'bin', kind: 'dir' },
    { path: 'bin/busybox', kind: 'file', mode: 0o755, data: fs.readFileSync('/bin/busybox') },
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from(INIT) },
  ]);

describe('nested arm64: Linux on the in-kernel vGICv3 across a checkpoint', () => {
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-vgic-linux-'));
  });
  afterEach(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('checkpointed while running and restored in a fresh process, it keeps running: timer interrupts arrive and a command prints its output', async () => {
    let console = '';
    const m = await createMachine<Arm64Boot>(
      {
        arch: 'arm64',
        memory: '256M',
        plugins: [DEV_GIC_MODULE],
        devices: [pl011()],
        boot: { kind: 'kernel', image: guestKernel(), initrd: initramfs(), cmdline: 'console=ttyAMA0 quiet panic=-1' },
      },
      { console: (bytes) => (console += Buffer.from(bytes).toString('latin1')) },
    );
    const dir = path.join(work, 'ckpt');
    try {
      const running = m.run();
      const deadline = Date.now() + 200_000;
      while (!console.includes('tick 3\n') && !console.includes('tick 3\r')) {
        if (Date.now() > deadline) throw new Error(`Linux did not reach its third tick; console:\n${console}`);
        await sleep(20);
      }
      await m.stop();
      expect(await running).toEqual({ reason: 'stopped' });
      await m.checkpoint(dir);
    } finally {
      await m.close();
    }
    const before = console;
    expect(before).toContain('kvmts-l2: up');
    expect(before).not.toContain(`tick ${TICKS}`);

    const out = path.join(work, 'child.json');
    const child = spawnSync(process.execPath, [CHILD, dir, out], { encoding: 'utf8', timeout: 300_000 });
    expect(child.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('Warning: disabling flag --expose_wasm'))).toEqual([]);
    expect(child.status).toBe(0);
    const after = decodeSection(fs.readFileSync(out), 'child output') as { exit: unknown; console: string };
    process.stdout.write(`before the checkpoint:\n${before}\nafter the restore:\n${after.console}\n`);
    expect(after.console).not.toContain('kvmts-l2: up'); // no second boot
    expect(after.console).toContain(`tick ${TICKS}`);
    expect(after.console).toContain(`kvmts-l2: after ${TICKS} ticks, aarch64 computes 42`);
    expect(after.exit).toEqual({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n });
  }, 480_000);
});
