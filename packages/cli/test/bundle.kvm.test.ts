/**
 * The bundled CLI running a real guest (KVM tier): `kvmts run` with KVMTS_CLI_BUNDLE=1 reads no
 * module file but the launcher and its loaders (freshness check, the early vCPU thread's start
 * with core's vcpu-thread-start, the start-up trace, the code-cache loader, which runs the
 * bundle), the vCPU worker's start script (its thread, which runs the host arch's worker bundle) and the native addon (counted with
 * NODE_DEBUG=module, every thread), runs both bundles through V8's code cache, and gets the
 * modular CLI's answer; its --json reports process start → first KVM_RUN (`startMs`).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { demoData } from '@kvmts/cli';
import { BUNDLE_FILES } from '../src/bundle/stamp';

const CLI = path.resolve(__dirname, '..');
const BIN = path.join(CLI, 'dist', 'bin.js');

function run(build: '0' | '1') {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'run', '--prebuilt', '--bytes', '4096', '--seed', '9', '--json'], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, KVMTS_CLI_BUNDLE: build, NODE_DEBUG: 'module', KVMTS_CODE_CACHE_TRACE: '1' },
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
    expect(bundled.loaded).toContain(path.join(CLI, 'bundle', 'vcpu-worker-start.js'));
    const loaders = [...['stamp.js', 'prewarm.js', 'startup-trace.js', 'code-cache.js'].map((f) => path.join(CLI, 'dist', 'bundle', f)), path.join(CLI, 'dist', 'stdio.js')];
    const allowed = [BIN, ...loaders, path.resolve(CLI, '..', 'core', 'dist', 'machine', 'vcpu-thread-start.js'), path.resolve(CLI, '..', 'core', 'dist', 'machine', 'gc-flag-lock.js'), path.resolve(CLI, '..', 'core', 'dist', 'util', 'lazy-builtins.js'), path.join(CLI, 'bundle', 'vcpu-worker-start.js')];
    expect(bundled.loaded.filter((f) => !allowed.includes(f) && !f.endsWith('kvmts_native.node'))).toEqual([]);
    // Both bundles ran through the code cache (used, or made on this first start in this host).
    expect(bundled.stderr).toMatch(/^kvmts: code cache: kvmts\.js (used|miss) /m);
    // The vCPU thread ran this host's worker bundle (the x86 one has no arm64 plugin).
    expect(bundled.stderr).toMatch(new RegExp(`^kvmts: code cache: ${BUNDLE_FILES.worker.replace(/\./g, '\\.')} (used|miss) `, 'm'));
    // The vCPU thread was started by the launcher, before the CLI bundle was read.
    const at = (re: RegExp) => Number(re.exec(bundled.stderr)?.[1]);
    const started = at(/^kvmts: start-up: 1 vCPU thread\(s\) started at ([\d.]+) ms/m);
    const cliRead = at(/^kvmts: code cache: kvmts\.js \S+ .*; ([\d.]+) ms after the process started/m);
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThan(cliRead);
    // And it is the one that served the machine: core's pool adopted it, and started no other.
    expect(bundled.stderr.match(/^kvmts: start-up: vCPU thread bootstrapped/gm)).toHaveLength(1);

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
