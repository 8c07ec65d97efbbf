/**
 * kvmts as a third party gets it, running: the scratch project that packaging.test.ts checks
 * (the packed tarballs installed outside the monorepo, with a device package written there
 * against the public exports) runs the README's example and a machine that puts the scratch
 * device in front of a real guest. In the nested x86 tier the runner builds the project on the
 * host (npm needs the registry) and shares it (KVMTS_SCRATCH_PROJECT); on a host with /dev/kvm
 * this suite builds it itself.
 */
import * as path from 'node:path';

interface ScratchScript {
  createScratchProject(options: { log: (line: string) => void }): { dir: string };
  compile(dir: string): { ok: boolean; output: string };
  runExample(dir: string): { status: number | null; stdout: string; stderr: string };
  runDeviceExample(dir: string): { status: number | null; stdout: string; stderr: string };
}
// A plain Node script (it is also a command), so it is required rather than imported.
const scratch = require(path.resolve(__dirname, '../../../scripts/pack/scratch-project.js')) as ScratchScript;

function scratchProject(): string {
  if (process.env.KVMTS_SCRATCH_PROJECT) return process.env.KVMTS_SCRATCH_PROJECT;
  const { dir } = scratch.createScratchProject({ log: () => undefined });
  const compiled = scratch.compile(dir);
  if (!compiled.ok) throw new TypeError(`the scratch project does not type-check:\n${compiled.output}`);
  return dir;
}

describeKvm('the packed packages, installed in a project outside the monorepo, on real KVM', () => {
  let dir: string;
  beforeAll(() => {
    dir = scratchProject();
  }, 300_000);

  it('run the README example: the guest powers off with status 0', () => {
    const r = scratch.runExample(dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/reason: 'poweroff',\s+status: 0/);
  });

  it('put the third-party device package in front of a guest: it serves its port exits', () => {
    const r = scratch.runDeviceExample(dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // pio_basic wrote 0x11, 0x2233, 0x44556677 to port 0x10 and read port 0x11 back into r8.
    expect(JSON.parse(r.stdout)).toEqual({ exit: { reason: 'poweroff', status: 0 }, r8: '0x77' });
  });
});
