/**
 * The bundled CLI running a real guest (KVM tier): `kvmts run` with KVMTS_CLI_BUNDLE=1 reads no
 * module file but the launcher, the bundle, the bundled vCPU worker (its thread) and the native
 * addon (counted with NODE_DEBUG=module, every thread), and gets the modular CLI's answer; its
 * --json reports process start → first KVM_RUN (`startMs`).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { demoData } from '@kvmts/cli';

const CLI = path.resolve(__dirname, '..');
const BIN = path.join(CLI, 'dist', 'bin.js');

function run(build: '0' | '1') {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'run', '--prebuilt', '--bytes', '4096', '--seed', '9', '--json'], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, KVMTS_CLI_BUNDLE: build, NODE_DEBUG: 'module' },
  });
  const wallMs = performance.now() - t0;
  const loaded = [...r.stderr.matchAll(/MODULE \d+: load "(.*)" for module/g)].map((m) => m[1]);
  return { ...r, wallMs, loaded, json: r.status === 0 ? (JSON.parse(r.stdout) as { ok: boolean; guestCrc: number; startMs: number }) : undefined };
}

describeKvm('the bundled kvmts CLI on KVM', () => {
  itKvm('runs the demo from the bundle and its vCPU thread from the bundled worker, with the modular CLI`s result', () => {
    const bundled = run('1');
    expect(bundled.status).toBe(0);
    const crc = zlib.crc32(demoData(4096, 9)) >>> 0;
    expect(bundled.json).toMatchObject({ ok: true, guestCrc: crc });
    expect(bundled.loaded).toContain(path.join(CLI, 'bundle', 'vcpu-worker.js'));
    const allowed = [BIN, path.join(CLI, 'dist', 'bundle', 'stamp.js'), path.join(CLI, 'bundle', 'kvmts.js'), path.join(CLI, 'bundle', 'vcpu-worker.js')];
    expect(bundled.loaded.filter((f) => !allowed.includes(f) && !f.endsWith('kvmts_native.node'))).toEqual([]);

    const modular = run('0');
    expect(modular.status).toBe(0);
    expect(modular.json).toMatchObject({ ok: true, guestCrc: crc });
    expect(modular.loaded).toContain(path.resolve(CLI, '..', 'core', 'dist', 'machine', 'vcpu-worker.js'));
    expect(modular.loaded.some((f) => f.startsWith(path.join(CLI, 'bundle')))).toBe(false);
  }, 240_000);

  itKvm('--json`s startMs is process start → the first KVM_RUN: after Node started, before the process ended', () => {
    const r = run('1');
    expect(r.status).toBe(0);
    const { startMs } = r.json!;
    expect(typeof startMs).toBe('number');
    expect(startMs).toBeGreaterThan(0);
    expect(startMs).toBeLessThan(r.wallMs);
  }, 120_000);
});
