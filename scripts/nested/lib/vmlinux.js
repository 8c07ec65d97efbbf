'use strict';
/**
 * The uncompressed ELF vmlinux inside an x86 bzImage, for suites that boot it through its PVH
 * entry (Debian ships only the bzImage). The boot protocol's setup header names the compressed
 * payload: payload_offset (0x248) from the start of the protected-mode code, which begins after
 * (setup_sects + 1) * 512 bytes, and payload_length (0x24c); Linux appends the decompressed size
 * as 4 little-endian bytes. Debian compresses with xz; the host's xz decompresses it.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { NestedError, hashOf, mkdirp } = require('./util');

const XZ_MAGIC = 'fd377a585a00';

/** The payload's xz stream and the size Linux recorded for it. */
function bzImagePayload(image) {
  if (image.length < 0x250 || image.readUInt32LE(0x202) !== 0x53726448) throw new NestedError('vmlinux', 'not a bzImage (no "HdrS" at 0x202)');
  const start = (image[0x1f1] + 1) * 512 + image.readUInt32LE(0x248);
  const length = image.readUInt32LE(0x24c);
  const payload = image.subarray(start, start + length);
  if (payload.length !== length || length < 4) throw new NestedError('vmlinux', `the payload (${length} bytes at ${start}) runs past the file's ${image.length} bytes`);
  const magic = payload.subarray(0, 6).toString('hex');
  if (magic !== XZ_MAGIC) throw new NestedError('vmlinux', `the payload is not xz (starts ${magic}); only xz-compressed kernels are unpacked`);
  return { xz: payload.subarray(0, length - 4), size: payload.readUInt32LE(length - 4) };
}

/** Extracts (once, cached by the kernel's hash) the vmlinux of `kernel`; returns its path. */
function extractVmlinux(cacheDir, kernel) {
  const out = path.join(mkdirp(path.join(cacheDir, 'vmlinux')), `${hashOf([{ file: kernel }])}.elf`);
  if (fs.existsSync(out)) return out;
  const { xz, size } = bzImagePayload(fs.readFileSync(kernel));
  const r = spawnSync('xz', ['-dc'], { input: xz, maxBuffer: 1024 * 1024 * 1024 });
  if (r.error || r.status !== 0) throw new NestedError('vmlinux', `xz -dc on ${kernel}'s payload: ${r.error?.message ?? `exited ${r.status}: ${String(r.stderr).trim()}`}`);
  const elf = r.stdout;
  if (elf.length !== size || elf.subarray(0, 4).toString('latin1') !== '\x7fELF') {
    throw new NestedError('vmlinux', `${kernel}: the unpacked payload is ${elf.length} bytes (Linux recorded ${size}) and ${elf.subarray(0, 4).toString('hex')}, not an ELF file`);
  }
  fs.writeFileSync(`${out}.tmp`, elf);
  fs.renameSync(`${out}.tmp`, out);
  return out;
}

module.exports = { extractVmlinux, bzImagePayload };
