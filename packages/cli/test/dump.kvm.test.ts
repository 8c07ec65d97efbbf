/** `kvmts dump` as a user runs it: the compiled bin in a child process. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '../dist/bin.js');
const kvmts = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120000 });

describe('kvmts dump', () => {
  it('rejects an unknown section with a clear message and exit code 1', () => {
    const r = kvmts('dump', '--sections', 'integer,fpu,vector');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--sections takes a comma-separated list of integer, special, fpu, xsave, xcrs, debug, events, msrs; unknown: vector/);
  });

  itKvm('stops the demo guest after an exit count and prints the eight dumps as text', () => {
    const r = kvmts('dump', '--exits', '3');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^vCPU 0: exit-limit; exits: IO 3/);
    for (const title of ['integer registers', 'special registers', 'FPU', 'XSAVE area', 'extended control registers', 'debug registers', 'vCPU events', 'model-specific registers']) {
      expect(r.stdout).toContain(`== ${title}`);
    }
    expect(r.stdout).toMatch(/ rip: 0x[0-9a-f]{16}/);
    expect(r.stdout).toMatch(/ cs: sel=0x0023 /); // the demo runs at CPL3
    expect(r.stdout).toMatch(/TSC +0x[0-9a-f]{16}/);
  });

  itKvm('--json gives the sections as data, 64-bit values as hex strings; --sections picks some', () => {
    const r = kvmts('dump', '--exits', '2', '--json', '--sections', 'integer,special,msrs', '--irqchip', 'kernel');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout.trim());
    expect(j).toMatchObject({ vcpu: 0, stop: { reason: 'exit-limit' }, exits: { IO: 2 } });
    expect(Object.keys(j.sections)).toEqual(['integer', 'special', 'msrs']);
    expect(j.sections.integer.rip).toMatch(/^0x[0-9a-f]+$/);
    expect(j.sections.special.cs.selector).toBe(0x23);
    expect(Object.values(j.sections.msrs).map((m) => (m as { name: string }).name)).toContain('TSC_DEADLINE');
  });

  itKvm('runs to the end without --exits: the demo powers off', () => {
    const r = kvmts('dump', '--sections', 'integer', '--prebuilt');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^vCPU 0: powered off with status 0;/);
    expect(r.stderr).toMatch(/kvmts demo guest: crc32\(4096 bytes\) = 0x[0-9a-f]{8}/);
  });
});
