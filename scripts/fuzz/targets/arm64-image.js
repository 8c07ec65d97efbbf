'use strict';
/**
 * `arm64-image`: the arm64 Image header parser and boot planner (boot/image.ts, boot/kernel.ts)
 * with random images — raw binaries and headers with edge text_offset, image_size and flags —
 * initrd and FDT sizes (byte counts, as the plugin passes them) and RAM ranges (page-aligned safe
 * integers, as addMemoryRegion admits them). A plan it returns must obey Linux's booting.rst:
 *   - the image at a 2 MiB-aligned base + text_offset (a raw binary at the start of RAM), in RAM
 *   - image end ≤ initrd start ≤ initrd end ≤ FDT address; FDT 8-byte aligned, ≤ 2 MiB, in RAM
 *   - every address a safe integer
 */
const { parseImageHeader, planKernelBoot, ARM64_IMAGE_MAGIC, ARM64_LAYOUT } = require('@kvmts/arch-arm64');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');

const U64_EDGES = [0n, 1n, 0x80000n, 0x200000n, 0x1000000n, 0x7fffffffn, 0xffffffffn, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

function u64(rng) {
  return rng.chance(0.5) ? rng.pick(U64_EDGES) : BigInt(rng.u32()) << BigInt(rng.pick([0, 0, 8, 12, 20, 32]));
}

function generate(rng) {
  const length = rng.chance(0.1) ? rng.int(0, 80) : rng.int(64, 8192);
  const image = rng.bytes(length);
  if (length >= 64 && rng.chance(0.8)) {
    const view = new DataView(image.buffer);
    view.setUint32(0x38, ARM64_IMAGE_MAGIC, true);
    view.setBigUint64(0x08, rng.chance(0.6) ? rng.pick([0n, 0x80000n]) : u64(rng), true);
    view.setBigUint64(0x10, rng.chance(0.6) ? BigInt(rng.int(1, 0x4000000)) : u64(rng), true);
    view.setBigUint64(0x18, rng.chance(0.7) ? BigInt(rng.int(0, 15) & ~1) : u64(rng), true);
  }
  const pageAligned = (max) => Math.floor(rng.int(0, max) / 4096) * 4096;
  return {
    image,
    initrdBytes: rng.chance(0.5) ? 0 : rng.chance(0.8) ? rng.int(1, 0x2000000) : rng.int(0, 2 ** 40),
    fdtBytes: rng.chance(0.8) ? rng.int(0, 0x10000) : rng.int(0, 0x400000),
    ram: { base: rng.chance(0.6) ? 0x4000_0000 : pageAligned(2 ** 48), size: Math.max(4096, rng.chance(0.6) ? pageAligned(0x10000000) : pageAligned(2 ** 44)) },
  };
}

function execute({ image, initrdBytes, fdtBytes, ram }) {
  const header = parseImageHeader(image);
  const plan = planKernelBoot(image, initrdBytes, fdtBytes, ram);
  const ramEnd = ram.base + ram.size;
  for (const [k, x] of Object.entries({ imageAddress: plan.imageAddress, imageEnd: plan.imageEnd, fdtAddress: plan.fdtAddress, ...(plan.initrd ?? {}) })) {
    invariant(Number.isSafeInteger(x), () => `${k} = ${x} is not a safe integer`);
  }
  invariant(plan.raw === (header === undefined), 'raw disagrees with the header');
  if (header) {
    invariant((plan.imageAddress - header.textOffset) % ARM64_LAYOUT.kernelAlignment === 0, () => `image at 0x${plan.imageAddress.toString(16)} is not 2 MiB-aligned + text_offset 0x${header.textOffset.toString(16)}`);
    invariant(plan.imageEnd - plan.imageAddress >= header.imageSize, 'imageEnd leaves out part of image_size');
  } else invariant(plan.imageAddress === ram.base + ARM64_LAYOUT.rawImageOffset, 'a raw image not at its fixed place');
  invariant(plan.imageAddress >= ram.base, () => `image at 0x${plan.imageAddress.toString(16)} below RAM at 0x${ram.base.toString(16)}`);
  invariant(plan.imageEnd - plan.imageAddress >= image.length, 'imageEnd leaves out part of the image bytes');
  const initrdStart = plan.initrd?.start ?? plan.fdtAddress;
  const initrdEnd = plan.initrd?.end ?? plan.fdtAddress;
  invariant(plan.imageEnd <= initrdStart && initrdStart <= initrdEnd && initrdEnd <= plan.fdtAddress, () => `overlap: image ..0x${plan.imageEnd.toString(16)}, initrd 0x${initrdStart.toString(16)}..0x${initrdEnd.toString(16)}, FDT 0x${plan.fdtAddress.toString(16)}`);
  invariant(plan.initrd === undefined || plan.initrd.end - plan.initrd.start === initrdBytes, 'initrd range of the wrong size');
  invariant(plan.fdtAddress % 8 === 0 && plan.fdtAddress + fdtBytes <= ramEnd && fdtBytes <= ARM64_LAYOUT.fdtMaxBytes, () => `FDT at 0x${plan.fdtAddress.toString(16)} (+${fdtBytes}) outside RAM ..0x${ramEnd.toString(16)}`);
}

module.exports = { description: 'arm64 Image header parsing and kernel/initrd/FDT placement (planKernelBoot)', generate, execute };
