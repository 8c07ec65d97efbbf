/**
 * The bzImage loader (loader/bzimage.ts) against synthetic images built field by field: the
 * zero page's bytes at bootparam.h's offsets, the e820 table, where the kernel, command line and
 * initrd go, the 64-bit entry state, and a ConfigError naming each way an image or a machine can
 * be wrong.
 */
import { ConfigError } from '@kvmts/core';
import { planBzImage, planKernelBoot, x86ArchPlugin, type RamRange, type X86BootPlan } from '@kvmts/arch-x86';
import { buildBzImage } from './support/kernel-images';

const MiB = 1024 * 1024;
/** The RAM a machine of `bytes` has: the plugin's own memory layout. */
const ram = (bytes: number): RamRange[] => x86ArchPlugin.memoryLayout(bytes).map((r) => ({ base: r.guestPhysAddr, size: r.size }));

function written(plan: X86BootPlan, gpa: number, length: number): Uint8Array {
  const w = plan.writes.find((x) => x.gpa <= gpa && gpa + length <= x.gpa + x.bytes.length);
  if (!w) throw new Error(`nothing written at 0x${gpa.toString(16)}`);
  return w.bytes.subarray(gpa - w.gpa, gpa - w.gpa + length);
}
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.length);

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('bzImage loader: the zero page and placement', () => {
  const image = buildBzImage();
  const initrd = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
  const plan = planBzImage({ image, initrd, cmdline: 'console=ttyS0 root=/dev/vda', ram: ram(64 * MiB) });
  const zp = view(written(plan, 0x7000, 0x1000));

  it('copies the setup header into the zero page and fills in the loader fields', () => {
    expect(plan.format).toBe('bzimage');
    expect(zp.getUint8(0x1f1)).toBe(1); // setup_sects
    expect(zp.getUint16(0x1fa, true)).toBe(0xffff); // vid_mode "normal"
    expect(zp.getUint16(0x1fe, true)).toBe(0xaa55);
    expect(zp.getUint32(0x202, true)).toBe(0x53726448);
    expect(zp.getUint16(0x206, true)).toBe(0x020f);
    expect(zp.getUint8(0x210)).toBe(0xff); // type_of_loader
    expect(zp.getUint8(0x211)).toBe(0x01); // loadflags as the kernel gave them
    expect(zp.getUint32(0x218, true)).toBe(0x3ffd000); // ramdisk_image
    expect(zp.getUint32(0x21c, true)).toBe(10000); // ramdisk_size
    expect(zp.getUint32(0x228, true)).toBe(0x20000); // cmd_line_ptr
    expect(zp.getUint32(0x22c, true)).toBe(0x7fffffff);
    expect(zp.getUint32(0x230, true)).toBe(0x200000);
    expect(zp.getUint16(0x236, true)).toBe(0x7f);
    expect(zp.getUint32(0x238, true)).toBe(2047);
    expect(zp.getBigUint64(0x258, true)).toBe(0x1000000n);
    expect(zp.getUint32(0x260, true)).toBe(0x400000);
    // Nothing outside the header and the fields above: the ext_ fields stay 0 (all below 4 GiB).
    expect(zp.getUint32(0x0c0, true)).toBe(0);
    expect(zp.getUint32(0x0c8, true)).toBe(0);
    expect([...written(plan, 0x7000 + 0x26c, 0x2d0 - 0x26c)].every((b) => b === 0)).toBe(true);
  });

  it('writes an e820 table with the EBDA-to-1 MiB hole reserved', () => {
    expect(zp.getUint8(0x1e8)).toBe(3);
    const entry = (i: number) => [zp.getBigUint64(0x2d0 + 20 * i, true), zp.getBigUint64(0x2d0 + 20 * i + 8, true), zp.getUint32(0x2d0 + 20 * i + 16, true)];
    expect([0, 1, 2].map(entry)).toEqual([
      [0n, 0x9fc00n, 1],
      [0x9fc00n, 0x60400n, 2],
      [0x100000n, 0x3f00000n, 1],
    ]);
    expect(zp.getUint32(0x2d0 + 60, true)).toBe(0);
  });

  it('leaves the 32-bit MMIO hole out of the e820 map of a 4 GiB machine', () => {
    const big = planBzImage({ image, ram: ram(4096 * MiB) });
    expect(big.memoryMap).toEqual([
      { addr: 0, size: 0x9fc00, type: 1 },
      { addr: 0x9fc00, size: 0x60400, type: 2 },
      { addr: 0x100000, size: 0xc0000000 - 0x100000, type: 1 },
      { addr: 2 ** 32, size: 0x40000000, type: 1 },
    ]);
  });

  it('loads the protected-mode kernel at pref_address and the command line at 0x20000', () => {
    expect(written(plan, 0x1000000, 4096)).toEqual(image.subarray(1024));
    expect(Buffer.from(written(plan, 0x20000, 28)).toString('latin1')).toBe('console=ttyS0 root=/dev/vda\0');
    expect(written(plan, 0x3ffd000, 10000)).toEqual(initrd);
    expect(plan.initrd).toEqual({ start: 0x3ffd000, size: 10000 });
  });

  it('enters startup_64 in long mode: RIP = load + 0x200, RSI = zero page, __BOOT_CS 0x10 / __BOOT_DS 0x18', () => {
    expect(plan.mode).toBe('long');
    expect(plan.regs).toMatchObject({ rip: 0x1000200n, rsi: 0x7000n, rsp: 0x8ff0n, rflags: 0x2n });
    const s = plan.sregs;
    expect(s.cs).toMatchObject({ selector: 0x10, l: 1, db: 0, dpl: 0, present: 1, base: 0n });
    for (const seg of [s.ds, s.es, s.ss]) expect(seg).toMatchObject({ selector: 0x18, db: 1, type: 3 });
    expect(s.cr0).toBe(0x80000011n);
    expect(s.cr4).toBe(0x20n);
    expect(s.efer).toBe(0x500n);
    expect(s.cr3).toBe(0x9000n);
    expect(s.gdt).toEqual({ base: 0x500n, limit: 0x3f });
    const gdt = view(written(plan, 0x500, 0x20));
    expect(gdt.getBigUint64(0x10, true)).toBe(0x00af9b000000ffffn);
    expect(gdt.getBigUint64(0x18, true)).toBe(0x00cf93000000ffffn);
    const tables = view(written(plan, 0x9000, 0x3000));
    expect(tables.getBigUint64(0, true)).toBe(0xa003n); // PML4[0] → PDPT
    expect(tables.getBigUint64(0x1000, true)).toBe(0xb003n); // PDPT[0] → PD 0
    expect(tables.getBigUint64(0x2008, true)).toBe(0x200083n); // PD[1]: 2 MiB at 2 MiB
  });

  it('lists every range it used, named', () => {
    expect(plan.ranges.map((r) => [r.what, r.start, r.end])).toEqual([
      ['GDT and TSS', 0x500, 0x25a9],
      ['zero page', 0x7000, 0x8000],
      ['boot stack', 0x8000, 0x8ff0],
      ['page tables', 0x9000, 0xf000],
      ['command line', 0x20000, 0x2001c],
      ['kernel (init_size)', 0x1000000, 0x1400000],
      ['initrd', 0x3ffd000, 0x3fff710],
    ]);
  });

  it('keeps the initrd below initrd_addr_max, and below the kernel when above it there is no room', () => {
    const capped = planBzImage({ image: buildBzImage({ initrdAddrMax: 0x1ffffff }), initrd, ram: ram(64 * MiB) });
    expect(capped.initrd).toEqual({ start: 0x1ffd000, size: 10000 });
    const under = planBzImage({ image: buildBzImage({ initrdAddrMax: 0x13fffff }), initrd, ram: ram(64 * MiB) });
    expect(under.initrd).toEqual({ start: 0xffd000, size: 10000 });
  });

  it('aligns pref_address up to kernel_alignment, and loads a non-relocatable kernel at 1 MiB', () => {
    expect(planBzImage({ image: buildBzImage({ prefAddress: 0x1100000n }), ram: ram(64 * MiB) }).regs.rip).toBe(0x1200200n);
    const fixed = planBzImage({ image: buildBzImage({ relocatable: 0 }), ram: ram(64 * MiB) });
    expect(fixed.regs.rip).toBe(0x100200n);
    expect(fixed.ranges.find((r) => r.what === 'kernel (init_size)')).toEqual({ what: 'kernel (init_size)', start: 0x100000, end: 0x500000 });
  });

  it('treats setup_sects 0 as 4', () => {
    const image4 = buildBzImage({ setupSects: 0 });
    expect(written(planBzImage({ image: image4, ram: ram(64 * MiB) }), 0x1000000, 4096)).toEqual(image4.subarray(5 * 512));
  });

  it('an empty command line is a lone NUL', () => {
    const p = planBzImage({ image, ram: ram(64 * MiB) });
    expect(written(p, 0x20000, 1)).toEqual(new Uint8Array([0]));
    expect(view(written(p, 0x7000, 0x1000)).getUint32(0x218, true)).toBe(0); // no initrd
  });
});

describe('bzImage loader: errors name what is wrong', () => {
  const machine = ram(64 * MiB);
  const cases: [string, () => unknown, string, RegExp][] = [
    ['not a kernel', () => planKernelBoot({ image: new Uint8Array(4096).fill(0x90), ram: machine }), 'boot.image', /not a kernel kvmts can boot/],
    ['a header cut short', () => planBzImage({ image: buildBzImage({ truncateTo: 0x250 }), ram: machine }), 'boot.image', /truncated: 592 bytes, shorter than its setup header/],
    ['a kernel cut short', () => planBzImage({ image: buildBzImage({ truncateTo: 1024 + 100 }), ram: machine }), 'boot.image', /truncated: setup_sects 1 and syssize say the kernel ends at 0x1400/],
    ['protocol 2.11', () => planBzImage({ image: buildBzImage({ version: 0x020b }), ram: machine }), 'boot.image', /boot protocol 2\.11 is too old.*≥ 2\.12/],
    ['no XLF_KERNEL_64', () => planBzImage({ image: buildBzImage({ xloadflags: 0x2 }), ram: machine }), 'boot.image', /no 64-bit entry point \(xloadflags 0x2 lacks XLF_KERNEL_64\)/],
    ['a zImage', () => planBzImage({ image: buildBzImage({ loadflags: 0 }), ram: machine }), 'boot.image', /zImage/],
    ['an odd kernel_alignment', () => planBzImage({ image: buildBzImage({ kernelAlignment: 0x300000 }), ram: machine }), 'boot.image', /kernel_alignment 0x300000 is not a power of two/],
    ['a command line over cmdline_size', () => planBzImage({ image: buildBzImage({ cmdlineSize: 16 }), cmdline: 'x'.repeat(17), ram: machine }), 'boot.cmdline', /is 17 bytes; the kernel's cmdline_size allows at most 16/],
    ['an unpaired surrogate in the command line (UTF-8 cannot carry it)', () => planBzImage({ image: buildBzImage(), cmdline: 'a\ud800b', ram: machine }), 'boot.cmdline', /unpaired UTF-16 surrogate \(0xd800\) at index 1/],
    ['a NUL in the command line', () => planBzImage({ image: buildBzImage(), cmdline: 'a\0b', ram: machine }), 'boot.cmdline', /NUL/],
    ['an initrd larger than the RAM left', () => planBzImage({ image: buildBzImage(), initrd: new Uint8Array(60 * MiB), ram: machine }), 'boot.initrd', /62914560 bytes do not fit in usable RAM below initrd_addr_max 0x7fffffff/],
    ['a machine too small for init_size', () => planBzImage({ image: buildBzImage(), ram: ram(18 * MiB) }), 'memory', /kernel \(init_size\) \[0x1000000, 0x1400000\) is not inside usable RAM .*needs RAM up to at least 0x1400000/],
  ];
  it.each(cases)('%s', (_name, fn, setting, message) => {
    const e = configError(fn);
    expect(e.setting).toBe(setting);
    expect(e.message).toMatch(message);
  });

  it('writes the command line as UTF-8 and counts its limit in bytes', () => {
    const p = planBzImage({ image: buildBzImage({ cmdlineSize: 6 }), cmdline: 'é\u{1F600}', ram: machine });
    expect(p.writes.find((w) => w.gpa === 0x20000)!.bytes).toEqual(new Uint8Array([0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0]));
    expect(configError(() => planBzImage({ image: buildBzImage({ cmdlineSize: 5 }), cmdline: 'é\u{1F600}', ram: machine })).message).toMatch(/is 6 bytes/);
  });

  it('accepts a command line of exactly cmdline_size bytes', () => {
    const p = planBzImage({ image: buildBzImage({ cmdlineSize: 16 }), cmdline: 'x'.repeat(16), ram: machine });
    expect(p.ranges.find((r) => r.what === 'command line')).toEqual({ what: 'command line', start: 0x20000, end: 0x20011 });
  });
});
