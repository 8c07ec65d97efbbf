/**
 * The x86 flat boot never lets two things it places overlap (loader/flat-image.ts
 * checkFlatLayout, over core's NamedRangeSet), and reads an image path only through core's
 * bounded regular-file reader. Host tier: a real GuestMemory over anonymous mappings.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as native from '@kvmts/native';
import { ConfigError, GuestMemory, type MemoryRegion } from '@kvmts/core';
import { loadFlatImage, type X86FlatBoot } from '@kvmts/arch-x86';

const RAM = 4 << 20;
let mapping: native.Mapping;
let memory: GuestMemory;
let dir: string;

beforeAll(() => {
  const c = native.constants;
  mapping = native.mmap(RAM, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS | c.MAP_NORESERVE);
  const region: MemoryRegion = { name: 'ram', guestPhysAddr: 0, size: RAM, kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false, slot: 0, mappingId: mapping.id, hostAddress: mapping.address };
  memory = new GuestMemory([region]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-flat-'));
});
afterAll(() => {
  mapping.unmap();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => memory.bytes(0, RAM).fill(0));

const IMAGE = Uint8Array.of(0xf4, 0xeb, 0xfd); // hlt; jmp $-1

function loadError(boot: Partial<X86FlatBoot>, vcpus = 1): ConfigError {
  try {
    loadFlatImage({ kind: 'flat', mode: 'long', image: IMAGE, ...boot } as X86FlatBoot, memory, vcpus, RAM);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('flat boot layout', () => {
  it('loads the default layout on 4 vCPUs', () => {
    const states = loadFlatImage({ kind: 'flat', mode: 'long', image: IMAGE }, memory, 4, RAM);
    expect(states).toHaveLength(4);
    expect(memory.read(0x8000, 3)).toEqual(IMAGE);
  });

  it.each([
    ['data over the page tables', { data: [{ gpa: 0x10000, bytes: new Uint8Array(64) }] }, 'boot.data[0].gpa: boot.data[0] (0x10000..0x1003f) overlaps page tables (0x10000..0x12fff) in guest memory'],
    ['data over the image', { data: [{ gpa: 0x8002, bytes: new Uint8Array(2) }] }, 'boot.data[0].gpa: boot.data[0] (0x8002..0x8003) overlaps boot.image (0x8000..0x8002) in guest memory'],
    ['an image over the stack', { loadAddress: 0x7ffe }, 'boot.loadAddress: boot.image (0x7ffe..0x8000) overlaps the stack of vCPU 0 (0x7800..0x7fff) in guest memory'],
    ['an image over the GDT', { loadAddress: 0x520 }, 'boot.loadAddress: boot.image (0x520..0x522) overlaps GDT and TSS (0x500..0x25a8) in guest memory'],
    ['a stack in the page tables', { stack: 0x10800 }, 'boot.stack: the stack of vCPU 0 (0x10000..0x107ff) overlaps page tables (0x10000..0x12fff) in guest memory'],
    ['two data buffers on each other', { data: [{ gpa: 0x100000, bytes: new Uint8Array(16) }, { gpa: 0x10000f, bytes: new Uint8Array(1) }] }, 'boot.data[1].gpa: boot.data[1] (0x10000f..0x10000f) overlaps boot.data[0] (0x100000..0x10000f) in guest memory'],
  ])('%s is a ConfigError naming both ranges, and nothing is written', (_, boot, message) => {
    expect(loadError(boot).message).toBe(message);
    expect(memory.read(0x8000, 3)).toEqual(new Uint8Array(3));
    expect(memory.read(0x500, 8)).toEqual(new Uint8Array(8));
  });

  it('more vCPUs than the default stack area holds: the first stack that hits the GDT is named', () => {
    // vCPU n's stack is the 0x800 bytes below 0x8000 − n × 0x800: vCPU 11's reaches down to 0x2000.
    expect(loadError({}, 12).message).toBe('boot.stack: the stack of vCPU 11 (0x2000..0x27ff) overlaps GDT and TSS (0x500..0x25a8) in guest memory');
  });

  it('a stack that would start below 0 says what to change', () => {
    expect(loadError({ mode: 'real', stack: 0x1000 }, 3).message).toBe('boot.stack: the stack of vCPU 2 would start below address 0 (stack 0x1000 − 3 × stride 0x800): raise boot.stack or lower boot.stackStride');
  });
});

describe('flat image paths', () => {
  it('reads a regular file', () => {
    const f = path.join(dir, 'guest.bin');
    fs.writeFileSync(f, IMAGE);
    loadFlatImage({ kind: 'flat', mode: 'long', image: f }, memory, 1, RAM);
    expect(memory.read(0x8000, 3)).toEqual(IMAGE);
  });

  it('refuses a FIFO that never closes (without hanging), /dev/zero, a directory and an oversized file, naming path and limit', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const big = path.join(dir, 'big.bin');
    fs.writeFileSync(big, new Uint8Array(RAM + 1));
    expect(loadError({ image: fifo }).message).toBe(`boot.image: ${fifo} is not a regular file (a FIFO)`);
    expect(loadError({ image: '/dev/zero' }).message).toBe('boot.image: /dev/zero is not a regular file (a character device)');
    expect(loadError({ image: dir }).message).toBe(`boot.image: ${dir} is not a regular file (a directory)`);
    expect(loadError({ image: big }).message).toBe(`boot.image: ${big} is ${RAM + 1} bytes; the limit is ${RAM}`);
    expect(loadError({ image: path.join(dir, 'none') }).message).toBe(`boot.image: cannot read ${path.join(dir, 'none')}: ENOENT`);
  });
});
