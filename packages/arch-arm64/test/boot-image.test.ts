import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, openBootFile } from '@kvmts/core';
import { ARM64_IMAGE_MAGIC, ARM64_LAYOUT, checkKernelBootLayout, parseImageHeader, planKernelBoot } from '../src';

const MiB = 1024 * 1024;

/** An Image header as booting.rst lays it out (Debian 6.1's values by default: text_offset 0, flags 0xA). */
function imageWith({ textOffset = 0, imageSize = 3 * MiB, flags = 0xa, length = 4096 } = {}): Uint8Array {
  const bytes = new Uint8Array(length);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0x08, BigInt(textOffset), true);
  v.setBigUint64(0x10, BigInt(imageSize), true);
  v.setBigUint64(0x18, BigInt(flags), true);
  v.setUint32(0x38, ARM64_IMAGE_MAGIC, true);
  return bytes;
}

const ram = { base: ARM64_LAYOUT.ramBase, size: 64 * MiB };

describe('Linux arm64 Image header', () => {
  it('reads text_offset, image_size and flags; no magic means a raw binary', () => {
    expect(parseImageHeader(imageWith({ textOffset: 0x8_0000, imageSize: 32 * MiB }))).toEqual({ textOffset: 0x8_0000, imageSize: 32 * MiB, flags: 0xan });
    expect(parseImageHeader(new Uint8Array(4096))).toBeUndefined();
    expect(parseImageHeader(new Uint8Array(16))).toBeUndefined();
  });

  it('refuses big-endian kernels and pre-3.17 headers (image_size 0)', () => {
    expect(() => parseImageHeader(imageWith({ flags: 1 }))).toThrow(/big-endian/);
    expect(() => parseImageHeader(imageWith({ imageSize: 0 }))).toThrow(/older than 3.17/);
  });
});

describe('kernel placement', () => {
  it('loads an Image at a 2 MiB-aligned base + text_offset, reserving image_size, with the FDT at the top of RAM and the initrd below it', () => {
    const plan = planKernelBoot(imageWith({ textOffset: 0x8_0000, imageSize: 8 * MiB }), 3 * MiB + 5, 1500, ram);
    expect(plan.raw).toBe(false);
    expect(plan.imageAddress).toBe(0x4008_0000);
    expect(plan.imageEnd).toBe(0x4008_0000 + 8 * MiB);
    expect(plan.fdtAddress).toBe(ram.base + ram.size - 4096);
    expect(plan.fdtAddress % 8).toBe(0);
    // page-aligned, ending as close below the FDT as alignment allows
    expect(plan.initrd).toEqual({ start: plan.fdtAddress - 3 * MiB - 4096, end: plan.fdtAddress - 4096 + 5 });
  });

  it('loads a raw binary at the fixed offset in RAM', () => {
    const plan = planKernelBoot(new Uint8Array(100), 0, 1500, ram);
    expect(plan).toEqual({ imageAddress: ram.base + ARM64_LAYOUT.rawImageOffset, imageEnd: ram.base + 100, fdtAddress: ram.base + ram.size - 4096, raw: true });
  });

  it('plans a kernel still in its file (a BootFile: header and length only) exactly as the same bytes in memory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-arm64-plan-'));
    try {
      const image = imageWith({ textOffset: 0x8_0000, imageSize: 8 * MiB, length: 5 * MiB });
      const raw = new Uint8Array(100).fill(3);
      fs.writeFileSync(path.join(dir, 'Image'), image);
      fs.writeFileSync(path.join(dir, 'raw.bin'), raw);
      expect(planKernelBoot(openBootFile('--kernel', path.join(dir, 'Image'), 64 * MiB), 3 * MiB + 5, 1500, ram)).toEqual(planKernelBoot(image, 3 * MiB + 5, 1500, ram));
      expect(planKernelBoot(openBootFile('--kernel', path.join(dir, 'raw.bin'), 64 * MiB), 0, 1500, ram)).toEqual(planKernelBoot(raw, 0, 1500, ram));
      expect(planKernelBoot(openBootFile('--kernel', path.join(dir, 'raw.bin'), 64 * MiB), 0, 1500, ram)).toMatchObject({ raw: true, imageAddress: ram.base + ARM64_LAYOUT.rawImageOffset, imageEnd: ram.base + ARM64_LAYOUT.rawImageOffset + 100 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what does not fit: RAM too small, an FDT over 2 MiB', () => {
    expect(() => planKernelBoot(imageWith({ imageSize: 60 * MiB }), 8 * MiB, 1500, ram)).toThrow(ConfigError);
    expect(() => planKernelBoot(new Uint8Array(16), 0, 3 * MiB, ram)).toThrow(/at most/);
  });
});

describe('kernel boot layout check', () => {
  it('passes what the planner places', () => {
    const plan = planKernelBoot(imageWith({ textOffset: 0x8_0000, imageSize: 8 * MiB }), 3 * MiB + 5, 1500, ram);
    expect(() => checkKernelBootLayout(plan, 1500, ram)).not.toThrow();
  });

  it.each([
    ['an initrd over the kernel', { imageAddress: 0x4008_0000, imageEnd: 0x4108_0000, initrd: { start: 0x4100_0000, end: 0x4110_0000 }, fdtAddress: ram.base + ram.size - 4096, raw: false }, "boot.initrd: the initrd (0x41000000..0x410fffff) overlaps the kernel (image_size) (0x40080000..0x4107ffff) in RAM (0x40000000..0x43ffffff)"],
    ['an FDT over the initrd', { imageAddress: 0x4000_0000, imageEnd: 0x4000_1000, initrd: { start: 0x4200_0000, end: 0x4200_2000 }, fdtAddress: 0x4200_1000, raw: true }, 'boot: the FDT (0x42001000..0x420015db) overlaps the initrd (0x42000000..0x42001fff) in RAM (0x40000000..0x43ffffff)'],
    ['an FDT past the end of RAM', { imageAddress: 0x4000_0000, imageEnd: 0x4000_1000, fdtAddress: ram.base + ram.size - 16, raw: true }, 'boot: the FDT (0x43fffff0..0x440005cb) ends beyond RAM (0x40000000..0x43ffffff), which stops at 0x43ffffff'],
    ['an image below RAM', { imageAddress: 0x3fff_f000, imageEnd: 0x4000_1000, fdtAddress: ram.base + ram.size - 4096, raw: true }, 'boot.image: the image (0x3ffff000..0x40000fff) overlaps the address space below RAM (0x0..0x3fffffff) in RAM (0x40000000..0x43ffffff)'],
  ])('%s is a ConfigError naming both ranges', (_, plan, message) => {
    expect(() => checkKernelBootLayout(plan, 1500, ram)).toThrow(new ConfigError(message.split(': ')[0], message.slice(message.indexOf(': ') + 2)));
  });
});
