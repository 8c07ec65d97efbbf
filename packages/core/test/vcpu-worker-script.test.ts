/**
 * useVcpuWorkerScript: a bundled program (the kvmts CLI) points the vCPU threads at its own
 * worker file; anything but an existing absolute path is a ConfigError, and undefined goes
 * back to core's compiled worker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@kvmts/core';
import { useVcpuWorkerScript, vcpuWorkerScript } from '../src/machine/vcpu-worker-pool';

describe('useVcpuWorkerScript', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-worker-script-'))));
  afterAll(() => {
    useVcpuWorkerScript(undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is core`s compiled dist/machine/vcpu-worker.js by default', () => {
    expect(vcpuWorkerScript()).toBe(path.resolve(__dirname, '..', 'dist', 'machine', 'vcpu-worker.js'));
  });

  it('uses the script it is given, and undefined restores the default', () => {
    const script = path.join(dir, 'worker.js');
    fs.writeFileSync(script, '');
    useVcpuWorkerScript(script);
    expect(vcpuWorkerScript()).toBe(script);
    useVcpuWorkerScript(undefined);
    expect(vcpuWorkerScript()).toBe(path.resolve(__dirname, '..', 'dist', 'machine', 'vcpu-worker.js'));
  });

  it.each([
    ['a relative path', 'bundle/vcpu-worker.js', 'got "bundle/vcpu-worker.js"'],
    ['a missing file', '/nonexistent/vcpu-worker.js', 'got "/nonexistent/vcpu-worker.js"'],
  ])('refuses %s by name, keeping the script it had', (_what, script, got) => {
    expect(() => useVcpuWorkerScript(script)).toThrow(ConfigError);
    expect(() => useVcpuWorkerScript(script)).toThrow(`vcpuWorkerScript: must be the absolute path of an existing worker script, ${got}`);
    expect(vcpuWorkerScript()).toBe(path.resolve(__dirname, '..', 'dist', 'machine', 'vcpu-worker.js'));
  });
});
