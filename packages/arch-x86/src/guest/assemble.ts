/**
 * Assembles a guest program with GNU binutils: `as` → `ld` (a generated linker script puts every
 * section, .bss included, into one blob at the load address) → `objcopy -O binary`, and `nm` for
 * the labels. Results are cached under os.tmpdir()/kvmts-guests keyed by a hash of the source,
 * the load address and this recipe, so tests assemble each guest once per machine.
 * Synchronous on purpose: it runs at test set-up and in build scripts, never on a hot path.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_GUEST_LOAD_ADDRESS, GUESTS_DIR, GuestBuildError, type GuestImage } from './guest-image';

export interface AssembleOptions {
  /** Link address. Default 0x8000 (the prebuilt copies use the default). */
  readonly loadAddress?: number;
  /** Cache directory; `null` disables the cache. Default os.tmpdir()/kvmts-guests. */
  readonly cacheDir?: string | null;
}

/** Bump when the recipe below changes, so cached builds are not reused. */
const RECIPE_VERSION = 1;

function linkerScript(loadAddress: number): string {
  return [
    'OUTPUT_FORMAT("elf64-x86-64")',
    'ENTRY(_start)',
    'SECTIONS {',
    `  . = 0x${loadAddress.toString(16)};`,
    '  .text : { *(.text .text.*) *(.rodata .rodata.*) *(.data .data.*) *(.bss .bss.*) *(COMMON) }',
    '  /DISCARD/ : { *(.note .note.*) *(.comment) *(.eh_frame) }',
    '}',
    '',
  ].join('\n');
}

/** Path of a guest's source: a bare name means packages/arch-x86/guests/<name>.S. */
export function guestSourcePath(nameOrPath: string): string {
  if (nameOrPath.includes('/') || /\.[sS]$/.test(nameOrPath)) return path.resolve(nameOrPath);
  return path.join(GUESTS_DIR, `${nameOrPath}.S`);
}

/** Names of the guests shipped in packages/arch-x86/guests. */
export function listGuests(): string[] {
  return fs
    .readdirSync(GUESTS_DIR)
    .filter((f) => f.endsWith('.S'))
    .map((f) => f.slice(0, -2))
    .sort();
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function run(guest: string, tool: string, args: string[], cwd: string): string {
  try {
    return execFileSync(tool, args, { cwd, env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new GuestBuildError(
        'toolchain-missing',
        guest,
        `'${tool}' not found: install GNU binutils (apt-get install binutils) or use loadPrebuiltGuest('${guest}')`,
        { cause: err },
      );
    }
    throw new GuestBuildError('build-failed', guest, `${tool} failed:\n${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Parses `nm` output ("0000000000008000 T _start") into labels; constants (type a/A) are left out. */
export function parseNmOutput(text: string): Map<string, number> {
  const symbols = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]+) ([A-Za-z]) (\S+)$/.exec(line.trim());
    if (!m || m[2] === 'a' || m[2] === 'A') continue;
    symbols.set(m[3], Number.parseInt(m[1], 16));
  }
  return symbols;
}

interface CachedBuild {
  bytes: Uint8Array;
  symbols: Record<string, number>;
}

function readCache(file: string): CachedBuild | undefined {
  try {
    const symbols = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as Record<string, number>;
    return { bytes: new Uint8Array(fs.readFileSync(`${file}.bin`)), symbols };
  } catch {
    return undefined; // absent or half-written: rebuild
  }
}

function writeCache(file: string, build: CachedBuild): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Write-then-rename so a concurrent reader (parallel jest workers) never sees half a file.
  const tmp = `${file}.${process.pid}.${Date.now()}`;
  fs.writeFileSync(`${tmp}.bin`, build.bytes);
  fs.writeFileSync(`${tmp}.json`, JSON.stringify(build.symbols));
  fs.renameSync(`${tmp}.bin`, `${file}.bin`);
  fs.renameSync(`${tmp}.json`, `${file}.json`);
}

function build(guest: string, source: string, loadAddress: number): CachedBuild {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-guest-build-'));
  try {
    fs.writeFileSync(path.join(work, 'link.ld'), linkerScript(loadAddress));
    run(guest, 'as', ['--64', '-o', 'guest.o', source], work);
    run(guest, 'ld', ['-m', 'elf_x86_64', '-static', '-nostdlib', '-T', 'link.ld', '-o', 'guest.elf', 'guest.o'], work);
    run(guest, 'objcopy', ['-O', 'binary', '-j', '.text', 'guest.elf', 'guest.bin'], work);
    const symbols = parseNmOutput(run(guest, 'nm', ['-n', 'guest.elf'], work));
    return { bytes: new Uint8Array(fs.readFileSync(path.join(work, 'guest.bin'))), symbols: Object.fromEntries(symbols) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Assembles a guest (by name from packages/arch-x86/guests, or by path to a `.S` file). */
export function assembleGuest(nameOrPath: string, options: AssembleOptions = {}): GuestImage {
  const source = guestSourcePath(nameOrPath);
  const name = path.basename(source).replace(/\.[sS]$/, '');
  const loadAddress = options.loadAddress ?? DEFAULT_GUEST_LOAD_ADDRESS;
  if (!Number.isSafeInteger(loadAddress) || loadAddress < 0 || loadAddress >= 2 ** 32) {
    throw new GuestBuildError('build-failed', name, `loadAddress must be below 4 GiB, got ${loadAddress}`);
  }
  let text: string;
  try {
    text = fs.readFileSync(source, 'utf8');
  } catch (err) {
    throw new GuestBuildError('not-found', name, `cannot read ${source}`, { cause: err });
  }
  const cacheDir = options.cacheDir === undefined ? path.join(os.tmpdir(), 'kvmts-guests') : options.cacheDir;
  const key = sha256(JSON.stringify({ recipe: RECIPE_VERSION, loadAddress, text }));
  const cacheFile = cacheDir === null ? undefined : path.join(cacheDir, `${name}-${key.slice(0, 24)}`);
  let result = cacheFile ? readCache(cacheFile) : undefined;
  if (!result) {
    result = build(name, source, loadAddress);
    if (cacheFile) writeCache(cacheFile, result);
  }
  return toImage(name, loadAddress, result.bytes, result.symbols);
}

export function toImage(name: string, loadAddress: number, bytes: Uint8Array, symbols: Record<string, number>): GuestImage {
  const map = new Map(Object.entries(symbols));
  const entry = map.get('_start');
  if (entry === undefined) throw new GuestBuildError('build-failed', name, 'no _start symbol');
  return { name, bytes, loadAddress, entry, symbols: map };
}
