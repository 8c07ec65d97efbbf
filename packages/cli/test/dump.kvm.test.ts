/** `kvmts dump` as a user runs it: the compiled bin in a child process. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPrebuiltGuest } from '@kvmts/arch-x86';

const bin = path.resolve(__dirname, '../dist/bin.js');
const kvmts = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120000 });

describe('kvmts dump', () => {
  it('rejects an unknown section with a clear message and exit code 1', () => {
    const r = kvmts('dump', '--sections', 'integer,fpu,vector');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--sections takes a comma-separated list of integer, special, fpu, xsave, xcrs, debug, events, msrs; unknown: vector/);
  });

  it('rejects an --m5op that is not one of gem5\'s ops', () => {
    const r = kvmts('dump', '--m5op', 'teleport');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--m5op takes 'any' or one of arm, quiesce, .*checkpoint.*; got 'teleport'/);
  });

  itKvm('--m5op stops at the guest\'s first call of that m5op and dumps the state there', () => {
    // guests/m5ops-tests.S: all_ops calls resetstats, workbegin, … then checkpoint(0x11, 0x22).
    const guest = loadPrebuiltGuest('m5ops-tests');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-dump-m5op-'));
    try {
      const image = path.join(dir, 'm5ops-tests.bin');
      fs.writeFileSync(image, guest.bytes);
      const entry = '0x' + guest.symbols.get('all_ops')!.toString(16);
      const r = kvmts('dump', '--image', image, '--entry', entry, '--cpl', '0', '--m5op', 'checkpoint', '--json', '--sections', 'integer');
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout.trim());
      expect(j.stop).toMatchObject({ reason: 'm5op-end', call: { op: 'checkpoint', func: 0x43, vcpuId: 0, args: { delayNs: '0x11', periodNs: '0x22' } } });
      expect(j.sections.integer.rdi).toBe('0x11');
      const text = kvmts('dump', '--image', image, '--entry', entry, '--cpl', '0', '--m5op', 'any', '--sections', 'integer');
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/^vCPU 0: stopped at m5op resetstats \(0x40\); exits: MMIO 1/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  itKvm('stops the demo guest after an exit count and prints the eight dumps as text', () => {
    const r = kvmts('dump', '--exits', '3');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^vCPU 0: stopped \(exit-limit\); exits: IO 3/);
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
