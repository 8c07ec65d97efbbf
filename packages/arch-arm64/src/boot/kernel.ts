/**
 * Where a kernel, its initrd and the FDT go in RAM (pure: the plugin writes them there). Linux's
 * rules (booting.rst): the Image at a 2 MiB-aligned base + text_offset with image_size bytes
 * free; the DTB 8-byte aligned, at most 2 MiB; the initrd anywhere in RAM. kvmts puts the image
 * low and the FDT at the top of RAM with the initrd right below it, as Firecracker does.
 */
import { ConfigError, NamedRangeSet, bootBytesHead, bootBytesLength, formatRange, type BootBytes } from '@kvmts/core';
import { ARM64_LAYOUT } from '../layout';
import { ARM64_IMAGE_HEADER_BYTES, parseImageHeader } from './image';

/** MachineConfig.boot on arm64. */
export interface Arm64KernelBoot {
  readonly kind: 'kernel';
  /**
   * A Linux arm64 Image (recognised by its header) or a raw, header-less binary, which is loaded
   * at ARM64_LAYOUT.rawImageOffset in RAM and entered at its first byte. Either way the boot vCPU
   * starts at EL1h with DAIF masked and the FDT's address in x0. Bytes, or a BootFile
   * (`kvmts boot`'s) that the loader reads straight into guest RAM.
   */
  readonly image: BootBytes;
  readonly initrd?: BootBytes;
  /** The kernel command line (/chosen/bootargs). */
  readonly cmdline?: string;
}

export interface RamRange {
  readonly base: number;
  readonly size: number;
}

export interface Arm64BootPlan {
  /** Where the image's first byte goes; also the entry point. */
  readonly imageAddress: number;
  /** The end of what the kernel may use (image_size for an Image, the bytes for a raw binary). */
  readonly imageEnd: number;
  readonly fdtAddress: number;
  readonly initrd?: { readonly start: number; readonly end: number };
  /** True for a raw binary. */
  readonly raw: boolean;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;

/** Places the image, initrd and FDT in `ram`; ConfigError when they do not fit. */
export function planKernelBoot(image: BootBytes, initrdBytes: number, fdtBytes: number, ram: RamRange): Arm64BootPlan {
  // Only the header and the length: a BootFile is planned for without reading the rest.
  const header = bootBytesLength(image) >= ARM64_IMAGE_HEADER_BYTES ? parseImageHeader(bootBytesHead(image, ARM64_IMAGE_HEADER_BYTES)) : undefined;
  const imageAddress = header ? alignUp(ram.base, ARM64_LAYOUT.kernelAlignment) + header.textOffset : ram.base + ARM64_LAYOUT.rawImageOffset;
  const imageEnd = imageAddress + Math.max(header?.imageSize ?? 0, bootBytesLength(image));
  if (fdtBytes > ARM64_LAYOUT.fdtMaxBytes) throw new ConfigError('boot', `the FDT is ${fdtBytes} bytes; Linux accepts at most ${ARM64_LAYOUT.fdtMaxBytes}`);
  const ramEnd = ram.base + ram.size;
  const fdtAddress = alignDown(ramEnd - fdtBytes, ARM64_LAYOUT.pageBytes);
  const initrdStart = initrdBytes > 0 ? alignDown(fdtAddress - initrdBytes, ARM64_LAYOUT.pageBytes) : fdtAddress;
  if (initrdStart < imageEnd) {
    const need = imageEnd - ram.base + (fdtAddress - initrdStart) + fdtBytes;
    throw new ConfigError('memory', `RAM at 0x${ram.base.toString(16)} is ${ram.size} bytes; the ${header ? 'kernel' : 'image'}${initrdBytes ? ', initrd' : ''} and FDT need about ${need}`);
  }
  return {
    imageAddress,
    imageEnd,
    fdtAddress,
    ...(initrdBytes > 0 ? { initrd: { start: initrdStart, end: initrdStart + initrdBytes } } : {}),
    raw: header === undefined,
  };
}

/**
 * What a plan places, checked as one layout: the kernel (its whole image_size), the initrd and
 * the FDT each inside RAM and on nothing else — a ConfigError naming both ranges otherwise. The
 * planner above places them apart; this is the check any other placement (a caller's own plan,
 * a later change to the planner) must pass too before a byte is written.
 */
export function checkKernelBootLayout(plan: Arm64BootPlan, fdtBytes: number, ram: RamRange): void {
  const layout = new NamedRangeSet(`RAM (${formatRange(ram.base, ram.size)})`, ram.base + ram.size);
  // Everything below RAM is claimed, so a range starting there is named as outside RAM.
  if (ram.base > 0) layout.add({ name: 'the address space below RAM', base: 0, size: ram.base });
  layout.add({ name: plan.raw ? 'the image' : 'the kernel (image_size)', base: plan.imageAddress, size: plan.imageEnd - plan.imageAddress }, 'boot.image');
  if (plan.initrd) layout.add({ name: 'the initrd', base: plan.initrd.start, size: plan.initrd.end - plan.initrd.start }, 'boot.initrd');
  layout.add({ name: 'the FDT', base: plan.fdtAddress, size: fdtBytes }, 'boot');
}
