/**
 * The arm64 Linux `Image` header (Documentation/arch/arm64/booting.rst):
 *
 *   0x00 code0, code1   0x08 text_offset   0x10 image_size   0x18 flags   0x38 magic "ARM\x64"
 *
 * An image without the magic is a raw, header-less binary (a tiny test guest, a bare-metal
 * program): kvmts loads it at a fixed place instead (ARM64_LAYOUT.rawImageOffset).
 */
import { ConfigError } from '@kvmts/core';

export const ARM64_IMAGE_MAGIC = 0x644d5241;
export const ARM64_IMAGE_HEADER_BYTES = 64;

const Offset = { textOffset: 0x08, imageSize: 0x10, flags: 0x18, magic: 0x38 } as const;

/** `flags` bit 0: a big-endian kernel. (Bits 2:1 give the page size, bit 3 whether the image may sit anywhere in RAM: kvmts places it at the start of RAM, which suits both.) */
const FLAG_BIG_ENDIAN = 1n;

export interface Arm64ImageHeader {
  /** Bytes between the 2 MiB-aligned load base and the start of the image. */
  readonly textOffset: number;
  /** Bytes the kernel needs from the start of the image, BSS included. */
  readonly imageSize: number;
  readonly flags: bigint;
}

function safe(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(`boot.image.${field}`, `0x${value.toString(16)} is not a plausible size`);
  return Number(value);
}

/** The header of a Linux arm64 Image, or undefined when `image` has none (a raw binary). */
export function parseImageHeader(image: Uint8Array): Arm64ImageHeader | undefined {
  if (image.length < ARM64_IMAGE_HEADER_BYTES) return undefined;
  const v = new DataView(image.buffer, image.byteOffset, ARM64_IMAGE_HEADER_BYTES);
  if (v.getUint32(Offset.magic, true) !== ARM64_IMAGE_MAGIC) return undefined;
  const flags = v.getBigUint64(Offset.flags, true);
  if ((flags & FLAG_BIG_ENDIAN) !== 0n) throw new ConfigError('boot.image', 'a big-endian arm64 kernel: kvmts boots little-endian guests only');
  const imageSize = safe(v.getBigUint64(Offset.imageSize, true), 'image_size');
  // Before Linux 3.17 image_size was 0 and text_offset unreliable (booting.rst).
  if (imageSize === 0) throw new ConfigError('boot.image', 'image_size is 0: a kernel older than 3.17, whose load offset kvmts cannot know');
  return { textOffset: safe(v.getBigUint64(Offset.textOffset, true), 'text_offset'), imageSize, flags };
}
