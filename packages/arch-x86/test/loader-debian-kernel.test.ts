/**
 * The bzImage loader on a real kernel: Debian's linux-image-<ver>-amd64, as the nested x86 tier
 * caches it (scripts/nested: <cache>/x/linux-image-<ver>-amd64_<debver>_amd64/boot/vmlinuz-<ver>,
 * <cache> = $KVMTS_NESTED_CACHE or ~/.cache/kvmts/nested). Skipped, saying so, where no tier run
 * has fetched it yet. The header facts checked are those of every Debian 6.1 amd64 kernel.
 * The vmlinux inside it (the xz payload at payload_offset, decompressed with the host's `xz`)
 * goes through the PVH loader.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectKernelFormat, parseBzImageHeader, parseElf, planKernelBoot, pvhEntry, x86ArchPlugin } from '@kvmts/arch-x86';

function findDebianKernel(): string | undefined {
  const dir = path.join(process.env.KVMTS_NESTED_CACHE || path.join(os.homedir(), '.cache', 'kvmts', 'nested'), 'x');
  if (!fs.existsSync(dir)) return undefined;
  const pkgs = fs.readdirSync(dir).filter((d) => /^linux-image-.*-amd64_.*_amd64$/.test(d)).sort();
  for (const pkg of pkgs.reverse()) {
    const boot = path.join(dir, pkg, 'boot');
    const kernel = fs.existsSync(boot) ? fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-')) : undefined;
    if (kernel) return path.join(boot, kernel);
  }
  return undefined;
}

const kernelPath = findDebianKernel();
const describeWithKernel = kernelPath ? describe : describe.skip;
const title = kernelPath
  ? `Debian's amd64 kernel (${path.basename(kernelPath)})`
  : "Debian's amd64 kernel (skipped: not in the nested tier's cache; a run of `node scripts/nested/run.js x86` fetches it)";

describeWithKernel(title, () => {
  const image = kernelPath ? new Uint8Array(fs.readFileSync(kernelPath)) : new Uint8Array();
  const ram = x86ArchPlugin.memoryLayout(512 * 1024 * 1024).map((r) => ({ base: r.guestPhysAddr, size: r.size }));

  it('has a 64-bit boot protocol setup header the loader accepts', () => {
    const h = parseBzImageHeader(image);
    expect(h.version).toBeGreaterThanOrEqual(0x020c);
    expect(h.xloadflags & 1).toBe(1);
    expect(h.relocatable).toBe(true);
    expect(h.kernelAlignment).toBe(0x200000);
    expect(h.prefAddress).toBe(0x1000000);
    expect(h.cmdlineSize).toBe(2047);
    expect(h.kernelOffset).toBe((image[0x1f1] + 1) * 512);
    // syssize covers the protected-mode kernel; Debian's file goes on with its Secure Boot
    // signature (a PE Authenticode blob), which is not loaded.
    expect(h.kernelOffset + h.kernelBytes).toBeLessThanOrEqual(image.length);
    expect(h.kernelBytes).toBeGreaterThan(image.length * 0.9);
    expect(h.initSize).toBeGreaterThan(h.kernelBytes);
  });

  it('plans a 512 MiB boot: kernel at 16 MiB, entry at +0x200, the initrd at the top of RAM', () => {
    const initrd = new Uint8Array(3 * 1024 * 1024 + 17);
    const plan = planKernelBoot({ image, initrd, cmdline: 'console=ttyS0 panic=-1', ram });
    const h = parseBzImageHeader(image);
    expect(plan.format).toBe('bzimage');
    expect(plan.regs.rip).toBe(0x1000200n);
    const kernel = plan.writes.find((w) => w.gpa === 0x1000000)!;
    expect(kernel.bytes.length).toBe(h.kernelBytes);
    expect(kernel.bytes[0]).toBe(image[h.kernelOffset]);
    expect(plan.ranges.find((r) => r.what === 'kernel (init_size)')).toEqual({ what: 'kernel (init_size)', start: 0x1000000, end: 0x1000000 + h.initSize });
    expect(plan.initrd).toEqual({ start: 0x20000000 - 0x301000, size: initrd.length });
    const zp = plan.writes.find((w) => w.gpa === 0x7000)!.bytes;
    // The header bytes the kernel reads back are its own, from 0x1f1 to 0x202 + the jump byte.
    const end = 0x202 + image[0x201];
    for (const off of [0x1f1, 0x206, 0x230, 0x236, 0x258, end - 1]) expect(zp[off]).toBe(image[off]);
  });
});

/** The uncompressed vmlinux inside a bzImage: payload_offset/payload_length (0x248/0x24c) name an xz stream plus the 4-byte size Linux appends. */
function extractVmlinux(image: Uint8Array): Uint8Array {
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const start = (image[0x1f1] + 1) * 512 + view.getUint32(0x248, true);
  const payload = image.subarray(start, start + view.getUint32(0x24c, true));
  expect(Buffer.from(payload.subarray(0, 6)).toString('hex')).toBe('fd377a585a00'); // xz magic
  const size = new DataView(payload.buffer, payload.byteOffset + payload.length - 4, 4).getUint32(0, true);
  const out = new Uint8Array(execFileSync('xz', ['-dc'], { input: payload.subarray(0, payload.length - 4), maxBuffer: 512 * 1024 * 1024 }));
  expect(out.length).toBe(size);
  return out;
}

const hasXz = spawnSync('xz', ['--version']).status === 0;
(kernelPath && hasXz ? describe : describe.skip)(
  kernelPath && hasXz ? "the vmlinux inside Debian's bzImage, through its PVH entry note" : `the vmlinux inside Debian's bzImage (skipped: ${kernelPath ? 'no xz on this host' : 'no Debian kernel in the nested cache'})`,
  () => {
    const vmlinux = kernelPath && hasXz ? extractVmlinux(new Uint8Array(fs.readFileSync(kernelPath))) : new Uint8Array();
    const ram = x86ArchPlugin.memoryLayout(256 * 1024 * 1024).map((r) => ({ base: r.guestPhysAddr, size: r.size }));

    it('is an ELF64 with XEN_ELFNOTE_PHYS32_ENTRY, loaded by physical address from 16 MiB', () => {
      const elf = parseElf(vmlinux);
      expect(elf.elfClass).toBe(64);
      expect(detectKernelFormat(vmlinux)).toBe('pvh');
      const entry = pvhEntry(elf)!;
      expect(elf.segments[0].paddr).toBe(0x1000000);
      expect(elf.segments[0].vaddr).toBe(0xffffffff81000000n); // linked high: the loader must use p_paddr
      expect(entry).toBeGreaterThan(0x1000000);
      expect(entry).toBeLessThan(0x1000000 + elf.segments[0].memBytes);
    });

    it('plans a PVH boot: every segment at its physical address, EBX = start info, the entry from the note', () => {
      const initrd = new Uint8Array(1024 * 1024);
      const plan = planKernelBoot({ image: vmlinux, initrd, cmdline: 'console=ttyS0', ram });
      const elf = parseElf(vmlinux);
      expect(plan.format).toBe('pvh');
      expect(plan.regs.rip).toBe(BigInt(pvhEntry(elf)!));
      expect(plan.regs.rbx).toBe(0x7000n);
      elf.segments.forEach((s, i) => expect(plan.ranges.find((r) => r.what === `kernel segment ${i}`)).toEqual({ what: `kernel segment ${i}`, start: s.paddr, end: s.paddr + s.memBytes }));
      expect(plan.initrd).toEqual({ start: 0x10000000 - 0x100000, size: initrd.length });
    });
  },
);
