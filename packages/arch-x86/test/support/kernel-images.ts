/**
 * Synthetic kernel images for the loader tests, built field by field from the documented layouts
 * (boot.rst's setup header, the ELF file and program headers, the Multiboot header), so each test
 * can set exactly the field it is about.
 */

export interface SegmentSpec {
  readonly paddr: number;
  readonly vaddr?: bigint;
  readonly bytes: Uint8Array;
  /** Default bytes.length. */
  readonly memBytes?: number;
}

export interface NoteSpec {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

const align4 = (n: number) => (n + 3) & ~3;

function noteBytes(notes: readonly NoteSpec[]): Uint8Array {
  const size = notes.reduce((s, n) => s + 12 + align4(n.name.length + 1) + align4(n.desc.length), 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  for (const n of notes) {
    v.setUint32(at, n.name.length + 1, true);
    v.setUint32(at + 4, n.desc.length, true);
    v.setUint32(at + 8, n.type, true);
    out.set(Buffer.from(n.name, 'latin1'), at + 12);
    at += 12 + align4(n.name.length + 1);
    out.set(n.desc, at);
    at += align4(n.desc.length);
  }
  return out;
}

/** An x86 ELF executable (class 32 or 64): PT_LOAD per segment, one PT_NOTE when notes are given. */
export function buildElf(options: { elfClass: 32 | 64; entry: bigint; segments: readonly SegmentSpec[]; notes?: readonly NoteSpec[]; prefix?: Uint8Array }): Uint8Array {
  const is64 = options.elfClass === 64;
  const ehsize = is64 ? 0x40 : 0x34;
  const phentsize = is64 ? 56 : 32;
  const notes = options.notes?.length ? noteBytes(options.notes) : undefined;
  const phnum = options.segments.length + (notes ? 1 : 0);
  // An optional block right after the program headers (a Multiboot header must sit in the first 8 KiB).
  const prefixAt = ehsize + phnum * phentsize;
  let at = align4(prefixAt + (options.prefix?.length ?? 0));
  const placed = options.segments.map((s) => {
    const off = at;
    at += align4(s.bytes.length);
    return off;
  });
  const notesAt = at;
  const total = at + (notes?.length ?? 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1], 0);
  v.setUint16(0x10, 2, true); // ET_EXEC
  v.setUint16(0x12, is64 ? 62 : 3, true);
  v.setUint32(0x14, 1, true);
  if (is64) {
    v.setBigUint64(0x18, options.entry, true);
    v.setBigUint64(0x20, BigInt(ehsize), true);
    v.setUint16(0x34, ehsize, true);
    v.setUint16(0x36, phentsize, true);
    v.setUint16(0x38, phnum, true);
  } else {
    v.setUint32(0x18, Number(options.entry), true);
    v.setUint32(0x1c, ehsize, true);
    v.setUint16(0x28, ehsize, true);
    v.setUint16(0x2a, phentsize, true);
    v.setUint16(0x2c, phnum, true);
  }
  const ph = (i: number, type: number, offset: number, vaddr: bigint, paddr: number, filesz: number, memsz: number) => {
    const p = ehsize + i * phentsize;
    v.setUint32(p, type, true);
    if (is64) {
      v.setUint32(p + 4, 7, true);
      v.setBigUint64(p + 8, BigInt(offset), true);
      v.setBigUint64(p + 16, vaddr, true);
      v.setBigUint64(p + 24, BigInt(paddr), true);
      v.setBigUint64(p + 32, BigInt(filesz), true);
      v.setBigUint64(p + 40, BigInt(memsz), true);
    } else {
      v.setUint32(p + 4, offset, true);
      v.setUint32(p + 8, Number(vaddr), true);
      v.setUint32(p + 12, paddr, true);
      v.setUint32(p + 16, filesz, true);
      v.setUint32(p + 20, memsz, true);
      v.setUint32(p + 24, 7, true);
    }
  };
  options.segments.forEach((s, i) => {
    ph(i, 1, placed[i], s.vaddr ?? BigInt(s.paddr), s.paddr, s.bytes.length, s.memBytes ?? s.bytes.length);
    out.set(s.bytes, placed[i]);
  });
  if (notes) {
    ph(options.segments.length, 4, notesAt, 0n, 0, notes.length, notes.length);
    out.set(notes, notesAt);
  }
  if (options.prefix) out.set(options.prefix, prefixAt);
  return out;
}

/** The PVH note's value as Linux writes it in a 64-bit kernel (8 bytes). */
export function pvhNote(entry: number, bytes: 4 | 8 = 8): NoteSpec {
  const desc = new Uint8Array(bytes);
  if (bytes === 8) new DataView(desc.buffer).setBigUint64(0, BigInt(entry), true);
  else new DataView(desc.buffer).setUint32(0, entry, true);
  return { name: 'Xen', type: 18, desc };
}

/** A Multiboot header: magic, flags, checksum, and the a.out kludge fields when given. */
export function multibootHeader(flags: number, aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }, checksumDelta = 0): Uint8Array {
  const out = new Uint8Array(aout ? 32 : 12);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x1badb002, true);
  v.setUint32(4, flags >>> 0, true);
  v.setUint32(8, (-(0x1badb002 + flags) + checksumDelta) >>> 0, true);
  if (aout) [aout.headerAddr, aout.loadAddr, aout.loadEndAddr, aout.bssEndAddr, aout.entryAddr].forEach((x, i) => v.setUint32(12 + 4 * i, x, true));
  return out;
}

export interface BzImageSpec {
  version?: number;
  setupSects?: number;
  loadflags?: number;
  xloadflags?: number;
  kernelAlignment?: number;
  relocatable?: number;
  prefAddress?: bigint;
  initSize?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  /** Protected-mode kernel bytes (a multiple of 16). Default 4 KiB of a pattern. */
  kernel?: Uint8Array;
  /** Cut the file to this length. */
  truncateTo?: number;
}

/** A bzImage: boot sector + setup sectors with a setup header, then the protected-mode kernel. */
export function buildBzImage(spec: BzImageSpec = {}): Uint8Array {
  const sects = spec.setupSects ?? 1;
  const kernel = spec.kernel ?? Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
  const setupBytes = ((sects || 4) + 1) * 512;
  const out = new Uint8Array(setupBytes + kernel.length);
  const v = new DataView(out.buffer);
  out[0x1f1] = sects;
  v.setUint32(0x1f4, kernel.length / 16, true);
  v.setUint16(0x1fe, 0xaa55, true);
  out[0x200] = 0xeb;
  out[0x201] = 0x6a; // jump over the header: it ends at 0x202 + 0x6a = 0x26c
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, spec.version ?? 0x020f, true);
  out[0x211] = spec.loadflags ?? 0x01;
  v.setUint32(0x214, 0x100000, true); // code32_start
  v.setUint32(0x22c, spec.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, spec.kernelAlignment ?? 0x200000, true);
  out[0x234] = spec.relocatable ?? 1;
  v.setUint16(0x236, spec.xloadflags ?? 0x7f, true);
  v.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  v.setBigUint64(0x258, spec.prefAddress ?? 0x1000000n, true);
  v.setUint32(0x260, spec.initSize ?? 0x400000, true);
  out.set(kernel, setupBytes);
  return spec.truncateTo === undefined ? out : out.slice(0, spec.truncateTo);
}
