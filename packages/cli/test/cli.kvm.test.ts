/** The kvmts command as a user runs it: the compiled bin in a child process. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Kvm } from '@kvmts/core';
import { demoData, runDemo } from '@kvmts/cli';

const bin = path.resolve(__dirname, '../dist/bin.js');
const kvmts = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60000 });

describe('kvmts command', () => {
  it('demoData is xorshift32 (13, 17, 5), low byte per step (golden bytes)', () => {
    // seed 1: x = 1 → 0x2001 → 0x2001 → 0x42021, so the first byte is 0x21.
    expect(Buffer.from(demoData(8, 1)).toString('hex')).toBe('2101c54fd1d01ab2');
    // seed 0 would be a fixed point of xorshift; it is replaced by 0x9e3779b9.
    expect(Buffer.from(demoData(8, 0)).toString('hex')).toBe('193e3ab51f37d0bf');
  });

  it('rejects a bad option with a clear message and exit code 1', () => {
    const r = kvmts('run', '--bytes', 'lots');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--bytes must be a positive integer, got 'lots'/);
  });

  itKvm('run boots the demo guest, prints its UART line and a summary whose CRC matches the host', () => {
    const r = kvmts('run', '--bytes', '4096', '--seed', '7');
    expect(r.status).toBe(0);
    const crc = (zlib.crc32(demoData(4096, 7)) >>> 0).toString(16).padStart(8, '0');
    expect(r.stdout).toContain(`kvmts demo guest: crc32(4096 bytes) = 0x${crc}\n`);
    expect(r.stdout).toMatch(/guest: +powered off with status 0 after [\d.]+ ms wall time/);
    expect(r.stdout).toMatch(/exits: +vCPU 0: IO \d+/);
    expect(r.stdout).toContain(`host zlib.crc32 0x${crc} → match`);
  });

  itKvm('run checkpoints the guest half-way at its m5op, finishes it in a fresh VM restored from it, and says so', () => {
    const r = kvmts('run', '--bytes', '65536', '--seed', '3');
    expect(r.status).toBe(0);
    const crc = (zlib.crc32(demoData(65536, 3)) >>> 0).toString(16).padStart(8, '0');
    expect(r.stdout).toMatch(/part 1: +vCPU 0: .*IO \d+.*, up to the guest's checkpoint m5op half-way/);
    expect(r.stdout).toMatch(/saved: +\d+ of 16384 pages hold data, in [\d.]+ ms, to .* \(temporary\)/);
    expect(r.stdout).toMatch(/restore: a fresh VM from the checkpoint in [\d.]+ ms/);
    expect(r.stdout).toMatch(/part 2: +vCPU 0: .*IO \d+/);
    // The UART line is printed once, by the restored VM, with the uninterrupted run's CRC.
    expect(r.stdout.split(`crc32(65536 bytes) = 0x${crc}`).length).toBe(2);
    expect(r.stdout).toContain(`host zlib.crc32 0x${crc} → match`);
    // Progress of the save and the restore on stderr, as lines (stderr is a pipe here, not a terminal).
    expect(r.stderr).toContain('saving memory: 0.0 of 64.0 MiB (0%)\n');
    expect(r.stderr).toContain('saving memory: 64.0 of 64.0 MiB (100%)\n');
    expect(r.stderr).toMatch(/checking memory: 0\.0 of [\d.]+ MiB \(0%\)\n[^]*checking memory: ([\d.]+) of \1 MiB \(100%\)\n/);
    const straight = kvmts('run', '--bytes', '65536', '--seed', '3', '--checkpoint-at', 'none');
    expect(straight.status).toBe(0);
    expect(straight.stdout).not.toMatch(/part 1:/);
    expect(straight.stdout).toContain(`host zlib.crc32 0x${crc} → match`);
  });

  itKvm('run --stop-at-checkpoint keeps the checkpoint; kvmts restore finishes it in another process with the same result', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-cli-ckpt-'));
    try {
      const ckpt = path.join(dir, 'demo');
      const saved = kvmts('run', '--bytes', '8192', '--seed', '5', '--checkpoint-dir', ckpt, '--stop-at-checkpoint');
      expect(saved.status).toBe(0);
      expect(saved.stdout).toContain(`stopped: at the checkpoint; continue with: kvmts restore ${ckpt}`);
      expect(saved.stdout).not.toMatch(/crc32\(8192 bytes\)/); // the guest had not finished
      const crc = zlib.crc32(demoData(8192, 5)) >>> 0;
      const restored = kvmts('restore', ckpt, '--json');
      expect(restored.status).toBe(0);
      expect(restored.stderr).toContain(`kvmts demo guest: crc32(8192 bytes) = 0x${crc.toString(16).padStart(8, '0')}`);
      const j = JSON.parse(restored.stdout) as { exit: unknown; result: number };
      expect(j.exit).toEqual({ reason: 'poweroff', status: 0 });
      expect(j.result).toBe(crc);
      // At an exit count instead of the m5op: the same answer.
      const atExits = kvmts('run', '--bytes', '8192', '--seed', '5', '--checkpoint-at', '20', '--json');
      expect(atExits.status).toBe(0);
      const k = JSON.parse(atExits.stdout) as { ok: boolean; guestCrc: number; checkpoint: { at: number } };
      expect(k).toMatchObject({ ok: true, guestCrc: crc, checkpoint: { at: 20 } });
      // --json: no progress on stderr (only the guest's console).
      for (const quiet of [restored, atExits]) expect(quiet.stderr).not.toMatch(/saving memory|checking memory/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  itKvm('run --json gives a machine-readable result; --prebuilt uses the committed guest', () => {
    const r = kvmts('run', '--bytes', '1000', '--prebuilt', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout); // the whole of stdout: the console went to stderr
    expect(r.stderr).toContain('kvmts demo guest: crc32(1000 bytes)');
    expect(j).toMatchObject({ ok: true, bytes: 1000, guestFrom: 'prebuilt', exit: { reason: 'poweroff', status: 0 } });
    expect(j.guestCrc).toBe(zlib.crc32(demoData(1000, 1)) >>> 0);
  });

  itKvm('a run whose AbortSignal fired (SIGINT/SIGTERM in the CLI) ends as stopped and closes the machine', async () => {
    const controller = new AbortController();
    controller.abort('SIGINT');
    const r = await runDemo({ bytes: 4096, guestSource: 'prebuilt', signal: controller.signal, console: () => undefined });
    expect(r.exit).toEqual({ reason: 'stopped' });
    expect(r.ok).toBe(false);
  });

  itKvm('caps lists capabilities from the system and VM fds', () => {
    const r = kvmts('caps', '--json');
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; system: number }[];
    expect(rows.find((x) => x.name === 'USER_MEMORY')?.system).toBe(1);
  });

  it('a missing KVM device is one clear line, not a stack trace', () => {
    const r = kvmts('caps', '--kvm', '/nonexistent/kvm');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^kvmts: KvmUnavailableError: \/nonexistent\/kvm does not exist/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
