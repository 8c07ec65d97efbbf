/**
 * Just enough ELF to load a kernel: the file header, the program headers (PT_LOAD segments by
 * their physical address, PT_NOTE notes) of 32- and 64-bit little-endian x86 files. Written by
 * hand on purpose: the loaders need a bounds-checked view of three tables and nothing else (no
 * sections, symbols or relocations), and every malformed field has to become a ConfigError that
 * names it, which a general ELF library would not give.
 */
import { ConfigError } from '@kvmts/core';

export const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_386 = 3;
const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_NOTE = 4;

/** One PT_LOAD segment: `fileBytes` go to `paddr`, the rest up to `memBytes` is zero (.bss). */
export interface ElfSegment {
  readonly paddr: number;
  /** Virtual address: a bigint, as 64-bit kernels link far above 2^53 (0xffffffff81000000). */
  readonly vaddr: bigint;
  readonly fileOffset: number;
  readonly fileBytes: number;
  readonly memBytes: number;
}

export interface ElfNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

export interface ElfImage {
  readonly elfClass: 32 | 64;
  /** e_entry as the file states it (virtual or physical, as the kernel was linked). */
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
  readonly notes: readonly ElfNote[];
}

/** Header field offsets per class: [e_entry, e_phoff, e_phentsize, e_phnum] and program-header fields. */
const LAYOUT = {
  32: { entry: 0x18, phoff: 0x1c, phentsize: 0x2a, phnum: 0x2c, headerBytes: 0x34, ph: { type: 0, offset: 4, vaddr: 8, paddr: 12, filesz: 16, memsz: 20 }, phBytes: 32 },
  64: { entry: 0x18, phoff: 0x20, phentsize: 0x36, phnum: 0x38, headerBytes: 0x40, ph: { type: 0, offset: 8, vaddr: 16, paddr: 24, filesz: 32, memsz: 40 }, phBytes: 56 },
} as const;

export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && new DataView(image.buffer, image.byteOffset, 4).getUint32(0, true) === ELF_MAGIC;
}

function bigword(view: DataView, offset: number, elfClass: 32 | 64): bigint {
  return elfClass === 32 ? BigInt(view.getUint32(offset, true)) : view.getBigUint64(offset, true);
}

/** A 64-bit field as a number; a value beyond 2^53 cannot be a real address or size here. */
function word(view: DataView, offset: number, elfClass: 32 | 64, field: string): number {
  if (elfClass === 32) return view.getUint32(offset, true);
  const v = view.getBigUint64(offset, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError('boot.image', `ELF ${field} 0x${v.toString(16)} is beyond any guest address`);
  return Number(v);
}

function parseNotes(image: Uint8Array, offset: number, size: number, out: ElfNote[]): void {
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const end = offset + size;
  let at = offset;
  const align4 = (n: number) => (n + 3) & ~3;
  while (at + 12 <= end) {
    const namesz = view.getUint32(at, true);
    const descsz = view.getUint32(at + 4, true);
    const type = view.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (next > end) throw new ConfigError('boot.image', `ELF note at file offset 0x${at.toString(16)} runs past its PT_NOTE segment (truncated)`);
    const nameBytes = image.subarray(nameAt, nameAt + namesz);
    const nul = nameBytes.indexOf(0);
    out.push({ name: Buffer.from(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)).toString('latin1'), type, desc: image.subarray(descAt, descAt + descsz) });
    at = next;
  }
}

/** Parses an x86 ELF file; ConfigError (setting 'boot.image') naming what is wrong or truncated. */
export function parseElf(image: Uint8Array): ElfImage {
  if (!isElf(image)) throw new ConfigError('boot.image', 'not an ELF file (no \\x7fELF magic)');
  if (image.length < 0x34) throw new ConfigError('boot.image', `ELF file truncated: ${image.length} bytes, shorter than its header`);
  const cls = image[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new ConfigError('boot.image', `ELF class ${cls} is neither 32-bit (1) nor 64-bit (2)`);
  if (image[5] !== ELFDATA2LSB) throw new ConfigError('boot.image', `ELF data encoding ${image[5]} is not little-endian (1)`);
  const elfClass = cls === ELFCLASS32 ? 32 : 64;
  const l = LAYOUT[elfClass];
  if (image.length < l.headerBytes) throw new ConfigError('boot.image', `ELF file truncated: ${image.length} bytes, shorter than its ${l.headerBytes}-byte header`);
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const machine = view.getUint16(0x12, true);
  if (machine !== EM_386 && machine !== EM_X86_64) throw new ConfigError('boot.image', `ELF machine ${machine} is not x86 (EM_386 3 or EM_X86_64 62)`);
  const entry = bigword(view, l.entry, elfClass);
  const phoff = word(view, l.phoff, elfClass, 'e_phoff');
  const phentsize = view.getUint16(l.phentsize, true);
  const phnum = view.getUint16(l.phnum, true);
  if (phnum === 0) throw new ConfigError('boot.image', 'ELF file has no program headers: nothing to load');
  if (phentsize < l.phBytes) throw new ConfigError('boot.image', `ELF e_phentsize ${phentsize} is smaller than a ${elfClass}-bit program header (${l.phBytes})`);
  if (phoff + phnum * phentsize > image.length) throw new ConfigError('boot.image', `ELF file truncated: its ${phnum} program headers end at 0x${(phoff + phnum * phentsize).toString(16)}, past the file's ${image.length} bytes`);
  const segments: ElfSegment[] = [];
  const notes: ElfNote[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = view.getUint32(ph + l.ph.type, true);
    if (type !== PT_LOAD && type !== PT_NOTE) continue;
    const fileOffset = word(view, ph + l.ph.offset, elfClass, `program header ${i} p_offset`);
    const fileBytes = word(view, ph + l.ph.filesz, elfClass, `program header ${i} p_filesz`);
    if (fileOffset + fileBytes > image.length) {
      throw new ConfigError('boot.image', `ELF file truncated: program header ${i} needs file bytes up to 0x${(fileOffset + fileBytes).toString(16)}, the file has ${image.length}`);
    }
    if (type === PT_NOTE) {
      parseNotes(image, fileOffset, fileBytes, notes);
      continue;
    }
    const memBytes = word(view, ph + l.ph.memsz, elfClass, `program header ${i} p_memsz`);
    if (memBytes < fileBytes) throw new ConfigError('boot.image', `ELF program header ${i}: p_memsz ${memBytes} is smaller than p_filesz ${fileBytes}`);
    if (memBytes === 0) continue;
    segments.push({ paddr: word(view, ph + l.ph.paddr, elfClass, `program header ${i} p_paddr`), vaddr: bigword(view, ph + l.ph.vaddr, elfClass), fileOffset, fileBytes, memBytes });
  }
  if (segments.length === 0) throw new ConfigError('boot.image', 'ELF file has no PT_LOAD segment: nothing to load');
  return { elfClass, entry, segments, notes };
}
