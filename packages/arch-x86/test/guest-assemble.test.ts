import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  assembleGuest,
  DEFAULT_GUEST_LOAD_ADDRESS,
  GUESTS_DIR,
  GuestBuildError,
  listGuests,
  loadPrebuiltGuest,
  parseNmOutput,
  PREBUILT_DIR,
} from '../src/guest';

let cacheDir: string;
beforeAll(() => {
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-guest-test-'));
});
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

function buildError(fn: () => unknown): GuestBuildError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestBuildError) return e;
    throw e;
  }
  throw new Error('expected a GuestBuildError');
}

describe('guest programs', () => {
  it('ships the documented guests, each with a README entry', () => {
    expect(listGuests()).toEqual(['checkpoint-tests', 'ckpt-gaps-tests', 'debug-tests', 'demo-checksum', 'incremental-tests', 'instruction-stops', 'interrupt-tests', 'long-mode-tests', 'm5ops-tests', 'multiboot-tests', 'pc-devices-tests', 'pci-tests', 'pvh-tests', 'real-mode-io', 'smp-tests', 'state-tests', 'switch-tests', 'sync-regs-tests']);
    const readme = fs.readFileSync(path.join(GUESTS_DIR, 'README.md'), 'utf8');
    for (const name of listGuests()) expect(readme).toContain(`## ${name}`);
  });

  it.each(['checkpoint-tests', 'demo-checksum', 'incremental-tests', 'long-mode-tests', 'real-mode-io', 'switch-tests'])('prebuilt %s equals what its source assembles to now', (name) => {
    const built = assembleGuest(name, { cacheDir });
    const prebuilt = loadPrebuiltGuest(name);
    expect(Buffer.from(prebuilt.bytes).equals(Buffer.from(built.bytes))).toBe(true);
    expect(prebuilt.symbols).toEqual(built.symbols);
    expect(prebuilt.entry).toBe(built.entry);
    const manifest = JSON.parse(fs.readFileSync(path.join(PREBUILT_DIR, `${name}.json`), 'utf8')) as { sourceSha256: string };
    const source = fs.readFileSync(path.join(GUESTS_DIR, `${name}.S`));
    expect(manifest.sourceSha256).toBe(createHash('sha256').update(source).digest('hex'));
  });

  it('links every guest at 0x8000 with _start first and exposes the scenario labels', () => {
    const lm = assembleGuest('long-mode-tests', { cacheDir });
    expect(lm.loadAddress).toBe(DEFAULT_GUEST_LOAD_ADDRESS);
    expect(lm.entry).toBe(0x8000);
    for (const s of ['pio_basic', 'pio_string', 'mmio', 'coalesced', 'readonly_write', 'sum_loop', 'halt', 'triple_fault', 'spin']) {
      const addr = lm.symbols.get(s);
      expect(addr).toBeGreaterThanOrEqual(0x8000);
      expect(addr).toBeLessThan(0x8000 + lm.bytes.length);
    }
    // triple_fault is `ud2` (0f 0b); spin is `jmp .` (eb fe).
    const at = (s: string, n: number): number[] => Array.from(lm.bytes.subarray(lm.symbols.get(s)! - 0x8000, lm.symbols.get(s)! - 0x8000 + n));
    expect(at('triple_fault', 2)).toEqual([0x0f, 0x0b]);
    expect(at('spin', 2)).toEqual([0xeb, 0xfe]);
    expect(at('halt', 1)).toEqual([0xf4]);
  });

  it('puts the demo CRC table inside the image, zero-filled, after the code', () => {
    const demo = assembleGuest('demo-checksum', { cacheDir });
    const table = demo.symbols.get('crc_table')!;
    expect(table % 4).toBe(0);
    expect(table - 0x8000 + 1024).toBe(demo.bytes.length);
    expect(demo.bytes.subarray(table - 0x8000).every((b) => b === 0)).toBe(true);
    expect(Buffer.from(demo.bytes).includes('kvmts demo guest: crc32(')).toBe(true);
  });

  it('assembles the real-mode guest as 16-bit code', () => {
    const real = assembleGuest('real-mode-io', { cacheDir });
    // mov al, 0x5a; out 0x10, al; in al, 0x11 — the same bytes in 16- and 64-bit mode, then
    // `mov bl, al` (88 c3) and `inc al` (fe c0); the jmp back to hlt is a short jump.
    expect(Array.from(real.bytes.subarray(0, 10))).toEqual([0xb0, 0x5a, 0xe6, 0x10, 0xe4, 0x11, 0x88, 0xc3, 0xfe, 0xc0]);
    expect(real.bytes[real.symbols.get('halt_loop')! - 0x8000]).toBe(0xf4);
  });

  it('honours another load address and reuses its cache', () => {
    const a = assembleGuest('long-mode-tests', { cacheDir, loadAddress: 0x20000 });
    expect(a.entry).toBe(0x20000);
    expect(a.symbols.get('spin')! - 0x20000).toBe(assembleGuest('long-mode-tests', { cacheDir }).symbols.get('spin')! - 0x8000);
    const cached = fs.readdirSync(cacheDir).filter((f) => f.startsWith('long-mode-tests-'));
    expect(cached.length).toBe(4); // .bin + .json for each of the two load addresses
    expect(assembleGuest('long-mode-tests', { cacheDir, loadAddress: 0x20000 }).bytes).toEqual(a.bytes);
  });

  it('assembles a source given by path', () => {
    const file = path.join(cacheDir, 'tiny.S');
    fs.writeFileSync(file, '.intel_syntax noprefix\n.code64\n.globl _start\n_start: nop\ndata: .quad 0x1122334455667788\n');
    const img = assembleGuest(file, { cacheDir: null });
    expect(img.name).toBe('tiny');
    expect(Array.from(img.bytes)).toEqual([0x90, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(img.symbols.get('data')).toBe(0x8001);
  });

  it('reports assembler errors, unknown guests and a missing toolchain as typed errors', () => {
    const bad = path.join(cacheDir, 'bad.S');
    fs.writeFileSync(bad, '.intel_syntax noprefix\n_start: mvo eax, 1\n');
    const e1 = buildError(() => assembleGuest(bad, { cacheDir: null }));
    expect(e1.reason).toBe('build-failed');
    expect(e1.message).toMatch(/mvo/);

    expect(buildError(() => assembleGuest('no-such-guest')).reason).toBe('not-found');
    expect(buildError(() => loadPrebuiltGuest('no-such-guest')).reason).toBe('not-found');

    const savedPath = process.env.PATH;
    process.env.PATH = path.join(cacheDir, 'empty-bin');
    try {
      const e3 = buildError(() => assembleGuest('long-mode-tests', { cacheDir: null }));
      expect(e3.reason).toBe('toolchain-missing');
      expect(e3.message).toMatch(/install GNU binutils.*loadPrebuiltGuest\('long-mode-tests'\)/);
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('parses nm output into labels, leaving out absolute constants', () => {
    const text = ['0000000000000010 a TEST_PORT_OUT', '0000000000008000 T _start', '0000000000008000 t pio_basic', '00000000000083f0 b crc_table', ''].join('\n');
    expect(parseNmOutput(text)).toEqual(new Map([['_start', 0x8000], ['pio_basic', 0x8000], ['crc_table', 0x83f0]]));
  });
});
