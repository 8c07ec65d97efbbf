/**
 * The 32-bit kernel loaders against synthetic images: an ELF with a PVH entry note
 * (loader/pvh.ts) and Multiboot kernels, ELF and a.out kludge (loader/multiboot.ts). Checks the
 * hvm_start_info and multiboot_info bytes at their documented offsets, the memory maps, the
 * initrd as module 0, the entry state, format detection, and a ConfigError for each bad input
 * (overlaps name both ranges).
 */
import { ConfigError } from '@kvmts/core';
import { detectKernelFormat, parseElf, planKernelBoot, planMultiboot, planPvh, x86ArchPlugin, type RamRange, type X86BootPlan } from '@kvmts/arch-x86';
import { buildElf, multibootHeader, pvhNote } from './support/kernel-images';

const MiB = 1024 * 1024;
const ram = (bytes: number): RamRange[] => x86ArchPlugin.memoryLayout(bytes).map((r) => ({ base: r.guestPhysAddr, size: r.size }));
const machine = ram(32 * MiB);

function written(plan: X86BootPlan, gpa: number, length: number): Uint8Array {
  const w = plan.writes.find((x) => x.gpa <= gpa && gpa + length <= x.gpa + x.bytes.length);
  if (!w) throw new Error(`nothing written at 0x${gpa.toString(16)}`);
  return w.bytes.subarray(gpa - w.gpa, gpa - w.gpa + length);
}
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.length);
const cstring = (plan: X86BootPlan, gpa: number) => {
  const w = plan.writes.find((x) => x.gpa <= gpa && gpa < x.gpa + x.bytes.length)!;
  const b = w.bytes.subarray(gpa - w.gpa);
  return Buffer.from(b.subarray(0, b.indexOf(0))).toString('latin1');
};
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const code = Uint8Array.from({ length: 0x300 }, (_, i) => (i * 13) & 0xff);
const initrd = Uint8Array.from({ length: 5000 }, (_, i) => (i * 3) & 0xff);

/** Linux's vmlinux shape: 64-bit ELF linked high (virtual 0xffffffff81000000), loaded by physical address. */
const vmlinuxLike = (notes = [pvhNote(0x1000100)]) =>
  buildElf({ elfClass: 64, entry: 0x1000000n, segments: [{ paddr: 0x1000000, vaddr: 0xffffffff81000000n, bytes: code, memBytes: 0x2000 }], notes });

describe('PVH loader: hvm_start_info and the 32-bit entry', () => {
  const image = vmlinuxLike();
  const plan = planPvh({ image, initrd, cmdline: 'console=ttyS0', ram: machine });
  const si = view(written(plan, 0x7000, 0x1000));

  it('is detected from the XEN_ELFNOTE_PHYS32_ENTRY note', () => {
    expect(detectKernelFormat(image)).toBe('pvh');
    expect(planKernelBoot({ image, ram: machine }).format).toBe('pvh');
  });

  it('writes hvm_start_info version 1 with the command line, the initrd as module 0 and the memory map', () => {
    expect(si.getUint32(0, true)).toBe(0x336ec578); // magic
    expect(si.getUint32(4, true)).toBe(1); // version
    expect(si.getUint32(8, true)).toBe(0); // flags
    expect(si.getUint32(12, true)).toBe(1); // nr_modules
    expect(si.getBigUint64(16, true)).toBe(0x7040n); // modlist_paddr
    expect(si.getBigUint64(24, true)).toBe(0x20000n); // cmdline_paddr
    expect(si.getBigUint64(32, true)).toBe(0n); // rsdp_paddr: no ACPI
    expect(si.getBigUint64(40, true)).toBe(0x7080n); // memmap_paddr
    expect(si.getUint32(48, true)).toBe(3); // memmap_entries
    // modlist[0]: paddr, size, cmdline_paddr, reserved
    expect([si.getBigUint64(0x40, true), si.getBigUint64(0x48, true), si.getBigUint64(0x50, true)]).toEqual([0x1ffe000n, 5000n, 0n]);
    const entry = (i: number) => [si.getBigUint64(0x80 + 24 * i, true), si.getBigUint64(0x88 + 24 * i, true), si.getUint32(0x90 + 24 * i, true), si.getUint32(0x94 + 24 * i, true)];
    expect([0, 1, 2].map(entry)).toEqual([
      [0n, 0x9fc00n, 1, 0],
      [0x9fc00n, 0x60400n, 2, 0],
      [0x100000n, 0x1f00000n, 1, 0],
    ]);
    expect(cstring(plan, 0x20000)).toBe('console=ttyS0');
    expect(written(plan, 0x1ffe000, 5000)).toEqual(initrd);
  });

  it('loads PT_LOAD segments at their physical addresses and zeroes the bss', () => {
    expect(written(plan, 0x1000000, code.length)).toEqual(code);
    expect([...written(plan, 0x1000000 + code.length, 0x2000 - code.length)].every((b) => b === 0)).toBe(true);
    expect(plan.ranges.find((r) => r.what === 'kernel segment 0')).toEqual({ what: 'kernel segment 0', start: 0x1000000, end: 0x1002000 });
  });

  it('enters at the note\'s address in flat 32-bit protected mode, paging off, EBX = start info', () => {
    expect(plan.mode).toBe('protected');
    expect(plan.regs).toMatchObject({ rip: 0x1000100n, rbx: 0x7000n, rflags: 0x2n });
    const s = plan.sregs;
    expect(s.cr0).toBe(0x11n); // PE | ET, no PG
    expect(s.cr4).toBe(0n);
    expect(s.efer).toBe(0n);
    expect(s.cs).toMatchObject({ selector: 0x10, db: 1, l: 0, g: 1, limit: 0xffffffff, base: 0n, type: 0xb });
    for (const seg of [s.ds, s.es, s.ss]) expect(seg).toMatchObject({ selector: 0x18, db: 1, limit: 0xffffffff, type: 3 });
    expect(s.tr).toMatchObject({ base: 0n, limit: 0x67, type: 0xb, present: 1 });
    expect(view(written(plan, 0x500, 0x20)).getBigUint64(0x10, true)).toBe(0x00cf9b000000ffffn);
  });

  it('takes a 4-byte note value (a 32-bit kernel) as well', () => {
    const p = planPvh({ image: vmlinuxLike([pvhNote(0x1000010, 4)]), ram: machine });
    expect(p.regs.rip).toBe(0x1000010n);
    expect(view(written(p, 0x7000, 56)).getUint32(12, true)).toBe(0); // no modules without an initrd
  });
});

describe('Multiboot loader: multiboot_info and the entry registers', () => {
  // An ELF32 kernel at 1 MiB with the header right after the program headers (in the first 8 KiB).
  const elfImage = buildElf({ elfClass: 32, entry: 0x100010n, segments: [{ paddr: 0x100000, bytes: code, memBytes: 0x1000 }], prefix: multibootHeader(0x3) });
  const plan = planMultiboot({ image: elfImage, initrd, cmdline: 'mb args', ram: machine });
  const info = view(written(plan, 0x7000, 0x1000));

  it('is detected by its header in an ELF without a PVH note', () => {
    expect(detectKernelFormat(elfImage)).toBe('multiboot');
  });

  it('writes multiboot_info: flags, mem_lower/upper, cmdline, mods, mmap, loader name', () => {
    expect(info.getUint32(0, true)).toBe(0x24d); // MEM | CMDLINE | MODS | MMAP | LOADER_NAME
    expect(info.getUint32(4, true)).toBe(639); // mem_lower KiB (0x9fc00)
    expect(info.getUint32(8, true)).toBe(31 * 1024); // mem_upper KiB: 1 MiB .. 32 MiB
    expect(info.getUint32(16, true)).toBe(0x20000);
    expect(cstring(plan, 0x20000)).toBe('mb args');
    expect(info.getUint32(20, true)).toBe(1); // mods_count
    expect(info.getUint32(24, true)).toBe(0x7060); // mods_addr
    expect([info.getUint32(0x60, true), info.getUint32(0x64, true)]).toEqual([0x1ffe000, 0x1ffe000 + 5000]); // mod_start, mod_end
    expect(cstring(plan, info.getUint32(0x68, true))).toBe('initrd');
    expect(info.getUint32(44, true)).toBe(3 * 24); // mmap_length
    expect(info.getUint32(48, true)).toBe(0x7080); // mmap_addr
    const mm = (i: number) => [info.getUint32(0x80 + 24 * i, true), info.getBigUint64(0x84 + 24 * i, true), info.getBigUint64(0x8c + 24 * i, true), info.getUint32(0x94 + 24 * i, true)];
    expect([0, 1, 2].map(mm)).toEqual([
      [20, 0n, 0x9fc00n, 1],
      [20, 0x9fc00n, 0x60400n, 2],
      [20, 0x100000n, 0x1f00000n, 1],
    ]);
    expect(cstring(plan, info.getUint32(64, true))).toBe('kvmts');
    expect(written(plan, 0x1ffe000, 5000)).toEqual(initrd);
  });

  it('enters with EAX = 0x2BADB002, EBX = info, in flat 32-bit protected mode', () => {
    expect(plan.regs).toMatchObject({ rax: 0x2badb002n, rbx: 0x7000n, rip: 0x100010n });
    expect(plan.sregs.cr0).toBe(0x11n);
    expect(plan.sregs.cs).toMatchObject({ selector: 0x10, db: 1, l: 0 });
  });

  it('without an initrd: mods_count 0', () => {
    const p = planMultiboot({ image: elfImage, ram: machine });
    expect(view(written(p, 0x7000, 32)).getUint32(20, true)).toBe(0);
    expect(p.initrd).toBeUndefined();
  });

  it('translates a virtual ELF entry through its segment', () => {
    const high = buildElf({ elfClass: 32, entry: 0xc0100020n, segments: [{ paddr: 0x100000, vaddr: 0xc0100000n, bytes: code }], prefix: multibootHeader(0) });
    expect(planMultiboot({ image: high, ram: machine }).regs.rip).toBe(0x100020n);
  });

  it('loads an a.out kludge image from the header\'s addresses, with its bss zeroed', () => {
    // A flat image whose header sits at file offset 0x40, linked at 0x200000.
    const flat = new Uint8Array(0x400).fill(0xcc);
    flat.set(multibootHeader(0x10003, { headerAddr: 0x200040, loadAddr: 0x200000, loadEndAddr: 0x200400, bssEndAddr: 0x201000, entryAddr: 0x200080 }), 0x40);
    const p = planKernelBoot({ image: flat, ram: machine });
    expect(p.format).toBe('multiboot');
    expect(written(p, 0x200000, 0x400)).toEqual(flat);
    expect([...written(p, 0x200400, 0xc00)].every((b) => b === 0)).toBe(true);
    expect(p.regs.rip).toBe(0x200080n);
    expect(p.ranges.find((r) => r.what.startsWith('kernel'))).toEqual({ what: 'kernel (a.out kludge)', start: 0x200000, end: 0x201000 });
  });

  it('load_end_addr 0 loads to the end of the file; load_addr below header_addr skips the bytes before it', () => {
    const flat = new Uint8Array(0x300).fill(0x11);
    flat.set(multibootHeader(0x10000, { headerAddr: 0x300100, loadAddr: 0x300000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x300000 }), 0x200);
    const p = planMultiboot({ image: flat, ram: machine });
    // header at file 0x200 is at 0x300100: the load starts at file offset 0x100.
    expect(written(p, 0x300000, 0x200)).toEqual(flat.subarray(0x100));
    expect(p.ranges.find((r) => r.what.startsWith('kernel'))).toEqual({ what: 'kernel (a.out kludge)', start: 0x300000, end: 0x300200 });
  });
});

describe('PVH and Multiboot loaders: errors', () => {
  const aout = (fields: Partial<{ headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }>, flags = 0x10000, size = 0x400) => {
    const f = new Uint8Array(size);
    f.set(multibootHeader(flags, { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200020, ...fields }), 0);
    return f;
  };
  const cases: [string, () => unknown, string, RegExp | string][] = [
    ['an ELF with neither a PVH note nor a Multiboot header', () => detectKernelFormat(buildElf({ elfClass: 64, entry: 0x100000n, segments: [{ paddr: 0x100000, bytes: code }] })), 'boot.image', /neither a PVH entry note .* nor a Multiboot header/],
    ['an ELF whose program headers run past the file', () => parseElf(vmlinuxLike().subarray(0, 0x60)), 'boot.image', /ELF file truncated: its 2 program headers end at 0xb0/],
    ['an ELF segment past the file', () => parseElf(vmlinuxLike().subarray(0, 0x200)), 'boot.image', /truncated: program header 0 needs file bytes up to 0x3b0/],
    ['an ELF for another machine', () => parseElf(Object.assign(vmlinuxLike(), { [0x12]: 183 })), 'boot.image', /ELF machine 183 is not x86/],
    ['a PVH entry outside every segment', () => planPvh({ image: vmlinuxLike([pvhNote(0x3000000)]), ram: machine }), 'boot.image', /PVH entry 0x3000000 is in no loaded segment/],
    ['a PVH note of 2 bytes', () => planPvh({ image: vmlinuxLike([{ name: 'Xen', type: 18, desc: new Uint8Array(2) }]), ram: machine }), 'boot.image', /2-byte value; expected 4 or 8/],
    ['a PVH segment above RAM', () => planPvh({ image: vmlinuxLike(), ram: ram(16 * MiB) }), 'memory', /kernel segment 0 \[0x1000000, 0x1002000\) is not inside usable RAM/],
    ['a PVH segment over the command line', () => planPvh({ image: buildElf({ elfClass: 64, entry: 0x20000n, segments: [{ paddr: 0x1f000, bytes: code, memBytes: 0x2000 }], notes: [pvhNote(0x1f000)] }), ram: machine }), 'boot', 'boot: kernel segment 0 (0x1f000..0x20fff) overlaps command line (0x20000..0x20000) in guest memory'],
    ['a PVH initrd larger than RAM', () => planPvh({ image: vmlinuxLike(), initrd: new Uint8Array(31 * MiB), ram: machine }), 'boot.initrd', /do not fit in usable RAM below 4 GiB/],
    ['a PVH command line over 2047 bytes', () => planPvh({ image: vmlinuxLike(), cmdline: 'y'.repeat(2048), ram: machine }), 'boot.cmdline', /is 2048 bytes; Linux's COMMAND_LINE_SIZE allows at most 2047/],
    ['a Multiboot magic with a bad checksum', () => planMultiboot({ image: (() => { const f = new Uint8Array(64); f.set(multibootHeader(0, undefined, 1), 8); return f; })(), ram: machine }), 'boot.image', /no Multiboot header in the first 8 KiB \(a magic at 0x8 has a bad checksum\)/],
    ['a Multiboot header past 8 KiB', () => detectKernelFormat((() => { const f = new Uint8Array(0x3000); f.set(multibootHeader(0x10000, { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200000 }), 0x2000); return f; })()), 'boot.image', /not a kernel kvmts can boot/],
    ['a Multiboot requirement kvmts lacks', () => planMultiboot({ image: aout({}, 0x10008), ram: machine }), 'boot.image', /requires flag bits 0x8/],
    ['a Multiboot flat image without the a.out kludge', () => planMultiboot({ image: (() => { const f = new Uint8Array(64); f.set(multibootHeader(0), 0); return f; })(), ram: machine }), 'boot.image', /neither an ELF file nor uses the a\.out kludge/],
    ['a.out kludge fields cut off', () => planMultiboot({ image: (() => { const f = new Uint8Array(24); f.set(multibootHeader(0x10000), 0); return f; })(), ram: machine }), 'boot.image', /a\.out kludge fields \(flag 16\) end past the file/],
    ['a.out load_addr above header_addr', () => planMultiboot({ image: aout({ loadAddr: 0x200010 }), ram: machine }), 'boot.image', /load_addr 0x200010 is above header_addr 0x200000/],
    ['a.out header_addr reaching before the file', () => planMultiboot({ image: aout({ loadAddr: 0x1ff000 }), ram: machine }), 'boot.image', /reaches before the start of the file/],
    ['a.out load_end_addr past the file', () => planMultiboot({ image: aout({ loadEndAddr: 0x201000 }), ram: machine }), 'boot.image', /Multiboot image truncated: load_end_addr asks for file bytes up to 0x1000, the file has 1024/],
    ['a.out bss_end_addr below the image', () => planMultiboot({ image: aout({ loadEndAddr: 0x200100, bssEndAddr: 0x200080 }), ram: machine }), 'boot.image', /bss_end_addr 0x200080 is below the loaded image's end 0x200100/],
    ['a.out entry outside the image', () => planMultiboot({ image: aout({ entryAddr: 0x300000 }), ram: machine }), 'boot.image', /entry_addr 0x300000 is outside the loaded image/],
    ['an a.out kernel over the multiboot info', () => planMultiboot({ image: aout({ headerAddr: 0x7800, loadAddr: 0x7800, entryAddr: 0x7820 }), ram: machine }), 'boot', 'boot: kernel (a.out kludge) (0x7800..0x7bff) overlaps multiboot info (0x7000..0x7fff) in guest memory'],
    ['an a.out kernel over the GDT', () => planMultiboot({ image: aout({ headerAddr: 0x400, loadAddr: 0x400, entryAddr: 0x420 }), ram: machine }), 'boot', 'boot: kernel (a.out kludge) (0x400..0x7ff) overlaps GDT (0x500..0x51f) in guest memory'],
    ['an a.out kernel in the EBDA hole', () => planMultiboot({ image: aout({ headerAddr: 0xa0000, loadAddr: 0xa0000, entryAddr: 0xa0020 }), ram: machine }), 'memory', /kernel \(a\.out kludge\) \[0xa0000, 0xa0400\) is not inside usable RAM/],
    ['a Multiboot initrd too large', () => planMultiboot({ image: aout({}), initrd: new Uint8Array(30 * MiB), ram: machine }), 'boot.initrd', /do not fit/],
  ];
  it.each(cases)('%s', (_name, fn, setting, message) => {
    const e = configError(fn);
    expect(e.setting).toBe(setting);
    expect(e.message).toMatch(message);
  });
});
