/**
 * Assembles a guest into an ELF executable rather than a flat blob: for the kernel-loader suites,
 * whose guests are kernels the loaders must find inside an ELF file (a Multiboot header in the
 * first 8 KiB, a PVH entry note in a PT_NOTE segment). One PT_LOAD segment from the link address
 * (the `.multiboot` section first, so its header lands near the start of the file; `ld -n` keeps
 * the file unpadded) and one PT_NOTE for `.note.Xen`. 32-bit (`as --32`, elf32-i386) or 64-bit
 * output; cached like assembleGuest's builds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guestSourcePath, parseNmOutput, run, sha256 } from './assemble';
import { GuestBuildError } from './guest-image';

export interface AssembleElfOptions {
  /** Link (= load) address. */
  readonly loadAddress: number;
  /** ELF class of the output; the code's own width is set in the source (.code32 / .code64). Default 32. */
  readonly elfClass?: 32 | 64;
  /** Cache directory; `null` disables the cache. Default os.tmpdir()/kvmts-guests. */
  readonly cacheDir?: string | null;
}

export interface GuestElf {
  readonly name: string;
  /** The ELF file's bytes. */
  readonly elf: Uint8Array;
  /** Labels from the symbol table: name → address. */
  readonly symbols: ReadonlyMap<string, number>;
}

const RECIPE_VERSION = 1;

function linkerScript(loadAddress: number, elfClass: 32 | 64): string {
  return [
    `OUTPUT_FORMAT("${elfClass === 32 ? 'elf32-i386' : 'elf64-x86-64'}")`,
    'ENTRY(_start)',
    'PHDRS { image PT_LOAD; notes PT_NOTE; }',
    'SECTIONS {',
    `  . = 0x${loadAddress.toString(16)};`,
    '  .text : { *(.multiboot) *(.text .text.*) *(.rodata .rodata.*) *(.data .data.*) } :image',
    '  .note.Xen : { *(.note.Xen) } :image :notes',
    '  .bss : { *(.bss .bss.*) *(COMMON) } :image',
    '  /DISCARD/ : { *(.note.GNU-stack) *(.note.gnu.*) *(.comment) *(.eh_frame) }',
    '}',
    '',
  ].join('\n');
}

/** Assembles a guest (by name from packages/arch-x86/guests, or by path) into an ELF executable. */
export function assembleGuestElf(nameOrPath: string, options: AssembleElfOptions): GuestElf {
  const source = guestSourcePath(nameOrPath);
  const name = path.basename(source).replace(/\.[sS]$/, '');
  const { loadAddress } = options;
  const elfClass = options.elfClass ?? 32;
  if (!Number.isSafeInteger(loadAddress) || loadAddress < 0 || loadAddress >= 2 ** 32) throw new GuestBuildError('build-failed', name, `loadAddress must be below 4 GiB, got ${loadAddress}`);
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    throw new GuestBuildError('not-found', name, `cannot read ${source}`, { cause: err });
  }
  const cacheDir = options.cacheDir === undefined ? path.join(os.tmpdir(), 'kvmts-guests') : options.cacheDir;
  const key = sha256(JSON.stringify({ recipe: `elf-${RECIPE_VERSION}`, loadAddress, elfClass, text })).slice(0, 24);
  const cached = cacheDir === null ? undefined : path.join(cacheDir, `${name}-elf-${key}`);
  if (cached && fs.existsSync(`${cached}.json`) && fs.existsSync(`${cached}.elf`)) {
    const symbols = JSON.parse(fs.readFileSync(`${cached}.json`, 'utf8')) as Record<string, number>;
    return { name, elf: new Uint8Array(fs.readFileSync(`${cached}.elf`)), symbols: new Map(Object.entries(symbols)) };
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-guest-elf-'));
  try {
    fs.writeFileSync(path.join(work, 'link.ld'), linkerScript(loadAddress, elfClass));
    run(name, 'as', [elfClass === 32 ? '--32' : '--64', '-o', 'guest.o', source], work);
    run(name, 'ld', ['-m', elfClass === 32 ? 'elf_i386' : 'elf_x86_64', '-static', '-nostdlib', '-n', '-T', 'link.ld', '-o', 'guest.elf', 'guest.o'], work);
    const symbols = parseNmOutput(run(name, 'nm', ['-n', 'guest.elf'], work));
    const elf = new Uint8Array(fs.readFileSync(path.join(work, 'guest.elf')));
    if (cached) {
      // Write-then-rename: a parallel reader never sees half a file.
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      const tmp = `${cached}.${process.pid}.${Date.now()}`;
      fs.writeFileSync(`${tmp}.elf`, elf);
      fs.writeFileSync(`${tmp}.json`, JSON.stringify(Object.fromEntries(symbols)));
      fs.renameSync(`${tmp}.elf`, `${cached}.elf`);
      fs.renameSync(`${tmp}.json`, `${cached}.json`);
    }
    return { name, elf, symbols };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
