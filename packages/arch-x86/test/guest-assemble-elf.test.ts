/**
 * assembleGuestElf: the kernel-loader test guests as ELF files — the class asked for, one PT_LOAD
 * at the link address, the Multiboot header inside the first 8 KiB, the PVH note in a PT_NOTE —
 * and the loaders' view of them (what kernel-boot.kvm boots).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleGuestElf, detectKernelFormat, findMultibootHeader, GuestBuildError, parseElf, pvhEntry } from '@kvmts/arch-x86';

let cacheDir: string;
beforeAll(() => {
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-guest-elf-test-'));
});
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

describe('assembleGuestElf', () => {
  it('links multiboot-tests as an ELF32 at 1 MiB with its Multiboot header near the start of the file', () => {
    const g = assembleGuestElf('multiboot-tests', { loadAddress: 0x100000, elfClass: 32, cacheDir });
    const elf = parseElf(g.elf);
    expect(elf.elfClass).toBe(32);
    expect(elf.segments).toHaveLength(1);
    expect(elf.segments[0]).toMatchObject({ paddr: 0x100000, vaddr: 0x100000n });
    expect(elf.segments[0].memBytes).toBeGreaterThan(elf.segments[0].fileBytes); // the stack is .bss
    expect(elf.entry).toBe(BigInt(g.symbols.get('_start')!));
    const { header } = findMultibootHeader(g.elf);
    expect(header).toEqual({ offset: elf.segments[0].fileOffset, flags: 3 });
    expect(detectKernelFormat(g.elf)).toBe('multiboot');
  });

  it('links pvh-tests as an ELF64 whose Xen note names pvh_start, not e_entry', () => {
    const g = assembleGuestElf('pvh-tests', { loadAddress: 0x200000, elfClass: 64, cacheDir });
    const elf = parseElf(g.elf);
    expect(elf.elfClass).toBe(64);
    expect(elf.notes).toEqual([expect.objectContaining({ name: 'Xen', type: 18 })]);
    expect(pvhEntry(elf)).toBe(g.symbols.get('pvh_start'));
    expect(elf.entry).toBe(BigInt(g.symbols.get('_start')!));
    expect(detectKernelFormat(g.elf)).toBe('pvh');
  });

  it('reuses its cache, keyed by class and address', () => {
    const a = assembleGuestElf('pvh-tests', { loadAddress: 0x200000, elfClass: 64, cacheDir });
    const b = assembleGuestElf('pvh-tests', { loadAddress: 0x200000, elfClass: 64, cacheDir });
    expect(Buffer.from(b.elf).equals(Buffer.from(a.elf))).toBe(true);
    expect(fs.readdirSync(cacheDir).filter((f) => f.startsWith('pvh-tests-elf-') && f.endsWith('.elf'))).toHaveLength(1);
    const moved = assembleGuestElf('pvh-tests', { loadAddress: 0x300000, elfClass: 64, cacheDir });
    expect(pvhEntry(parseElf(moved.elf))).toBe(0x300002);
  });

  it('reports an unknown guest and a bad load address as GuestBuildError', () => {
    expect(() => assembleGuestElf('no-such-guest', { loadAddress: 0x100000, cacheDir })).toThrow(GuestBuildError);
    expect(() => assembleGuestElf('pvh-tests', { loadAddress: 2 ** 32, cacheDir })).toThrow(/loadAddress must be below 4 GiB/);
  });
});
