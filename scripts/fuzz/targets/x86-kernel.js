'use strict';
/**
 * `x86-kernel`: the x86 kernel loaders (arch-x86 loader/: format detection, bzImage, PVH ELF,
 * Multiboot) through `readKernelBoot` (the config check prepareBoot runs for `boot: { kind:
 * 'kernel' }`) and `planKernelBoot`, with random and mutated kernels — setup headers with edge
 * protocol versions, flags, alignments, sizes and addresses; ELF files (32/64-bit) with odd
 * program headers and PVH notes; Multiboot headers with a.out kludge fields — initrd sizes,
 * command lines and machine sizes. Must plan or give a typed error. A plan must hold:
 *   - every range inside one usable RAM entry of its memory map, no two overlapping
 *   - every memory write inside one of its ranges (nothing written outside what it checked)
 *   - the entry (rip) inside a kernel range; the initrd, when given, whole and below 4 GiB
 *   - a bzImage's initrd at or below initrd_addr_max, its command line ≤ cmdline_size
 *   - the command line the kernel reads (UTF-8 up to the NUL) is exactly the one given
 */
const { readKernelBoot, planKernelBoot, parseBzImageHeader, x86ArchPlugin } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');

const MiB = 1024 * 1024;
const MACHINE_SIZES = [4096, MiB, 2 * MiB, 16 * MiB, 32 * MiB, 64 * MiB, 512 * MiB, 3 * 1024 * MiB, 5 * 1024 * MiB];
const ADDRESSES = [0, 0x500, 0x7000, 0x8000, 0x9000, 0x20000, 0x9fc00, 0xa0000, 0x100000, 0x200000, 0x1000000, 0x1ff0000, 0xbffff000, 0xfffff000];

const u32 = (x) => (Number.isFinite(x) ? Math.trunc(x) >>> 0 : 0);
/** A 32-bit address, near the places the loaders use most of the time. */
const addr = (rng) => u32(rng.chance(0.6) ? rng.pick(ADDRESSES) + rng.pick([0, 0, 0x10, 0x1000, -0x10]) : rng.chance(0.5) ? rng.u32() : v.intNear(rng, 0, 2 ** 32));

/**
 * Each builder makes a sane image half of the time (every field valid, so the plan's invariants
 * get exercised) and an edgy one otherwise.
 */
function bzImage(rng) {
  const sane = rng.chance(0.5);
  const sects = rng.chance(0.8) ? rng.int(0, 4) : rng.int(0, 255);
  const kernelBytes = rng.int(0, 64) * 16;
  const out = new Uint8Array(((sects || 4) + 1) * 512 + kernelBytes);
  const d = new DataView(out.buffer);
  out[0x1f1] = sects;
  d.setUint32(0x1f4, sane || rng.chance(0.8) ? kernelBytes / 16 : rng.u32(), true);
  out[0x201] = rng.chance(0.8) ? 0x6a : rng.int(0, 255);
  d.setUint32(0x202, 0x53726448, true);
  d.setUint16(0x206, sane ? 0x020f : rng.chance(0.7) ? rng.pick([0x020c, 0x020f, 0x020b, 0x0200]) : rng.int(0, 0xffff), true);
  out[0x211] = sane || rng.chance(0.8) ? 1 : rng.int(0, 255);
  d.setUint32(0x22c, rng.chance(0.5) ? 0x7fffffff : addr(rng), true);
  d.setUint32(0x230, sane || rng.chance(0.6) ? 0x200000 : rng.chance(0.5) ? 1 << rng.int(0, 31) : rng.u32(), true);
  out[0x234] = sane || rng.chance(0.7) ? 1 : rng.int(0, 2);
  d.setUint16(0x236, sane || rng.chance(0.7) ? 0x7f : rng.int(0, 0xffff), true);
  d.setUint32(0x238, sane || rng.chance(0.6) ? 2047 : rng.chance(0.5) ? rng.int(0, 64) : rng.u32(), true);
  d.setBigUint64(0x258, sane ? rng.pick([0x1000000n, 0x200000n, 0x100000n]) : rng.chance(0.6) ? 0x1000000n : rng.chance(0.5) ? BigInt(addr(rng)) : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()), true);
  d.setUint32(0x260, sane || rng.chance(0.6) ? rng.int(0, 0x800000) : rng.u32(), true);
  return out;
}

function elf(rng, { pvh, multiboot }) {
  const sane = rng.chance(0.5);
  const is64 = rng.chance(0.5);
  const eh = is64 ? 0x40 : 0x34;
  const ph = is64 ? 56 : 32;
  const segs = Array.from({ length: sane ? rng.int(1, 3) : rng.int(0, 3) }, (_, i) => ({ paddr: sane ? 0x100000 + i * 0x100000 + rng.int(0, 15) * 0x10000 : addr(rng), bytes: rng.int(0, 256), mem: rng.chance(0.7) ? 0 : rng.int(0, 0x10000) }));
  const note = pvh ? (() => {
    const n = new Uint8Array(24);
    const nd = new DataView(n.buffer);
    const size = sane || rng.chance(0.8) ? 8 : rng.pick([0, 2, 4, 12]);
    nd.setUint32(0, 4, true);
    nd.setUint32(4, size, true);
    nd.setUint32(8, sane || rng.chance(0.9) ? 18 : rng.u32(), true);
    n.set([0x58, 0x65, 0x6e, 0], 12);
    nd.setUint32(16, segs.length && (sane || rng.chance(0.7)) ? segs[0].paddr + rng.int(0, 16) : addr(rng), true);
    return n.subarray(0, 16 + Math.min(size, 8));
  })() : undefined;
  const phnum = segs.length + (note ? 1 : 0);
  const mb = multiboot ? mbHeader(rng, false, sane) : new Uint8Array(0);
  let at = eh + phnum * ph + mb.length;
  const offsets = segs.map((s) => ((at += s.bytes), at - s.bytes));
  const noteAt = at;
  const out = new Uint8Array(at + (note?.length ?? 0));
  const d = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, sane || rng.chance(0.95) ? 1 : 2, 1]);
  d.setUint16(0x12, sane || rng.chance(0.95) ? (is64 ? 62 : 3) : rng.int(0, 300), true);
  const entry = segs.length && (sane || rng.chance(0.8)) ? segs[0].paddr + rng.int(0, 16) : addr(rng);
  const phoff = sane || rng.chance(0.95) ? eh : rng.u32();
  if (is64) {
    d.setBigUint64(0x18, BigInt(entry), true);
    d.setBigUint64(0x20, BigInt(phoff), true);
    d.setUint16(0x36, sane || rng.chance(0.95) ? ph : rng.int(0, 80), true);
    d.setUint16(0x38, phnum, true);
  } else {
    d.setUint32(0x18, entry, true);
    d.setUint32(0x1c, phoff, true);
    d.setUint16(0x2a, sane || rng.chance(0.95) ? ph : rng.int(0, 80), true);
    d.setUint16(0x2c, phnum, true);
  }
  const writePh = (i, type, off, paddr, filesz, memsz) => {
    const p = eh + i * ph;
    d.setUint32(p, type, true);
    const f = is64 ? [8, 16, 24, 32, 40] : [4, 8, 12, 16, 20];
    const w = (o, x) => (is64 ? d.setBigUint64(p + o, BigInt(x), true) : d.setUint32(p + o, u32(x), true));
    [off, paddr, paddr, filesz, memsz].forEach((x, k) => w(f[k], x));
  };
  segs.forEach((s, i) => writePh(i, 1, sane || rng.chance(0.95) ? offsets[i] : rng.u32(), s.paddr, s.bytes, s.bytes + s.mem));
  if (note) {
    writePh(segs.length, 4, noteAt, 0, note.length, note.length);
    out.set(note, noteAt);
  }
  out.set(mb, eh + phnum * ph);
  return out;
}

function mbHeader(rng, aout, sane = rng.chance(0.5)) {
  const flags = (sane || rng.chance(0.8) ? rng.pick([0, 1, 2, 3, 4]) : rng.int(0, 0xffff)) | (aout ? 0x10000 : 0);
  const out = new Uint8Array(aout ? 32 : 12);
  const d = new DataView(out.buffer);
  d.setUint32(0, 0x1badb002, true);
  d.setUint32(4, flags, true);
  d.setUint32(8, (-(0x1badb002 + flags) + (sane || rng.chance(0.95) ? 0 : 1)) >>> 0, true);
  if (aout) {
    const header = sane ? 0x100000 + rng.int(0, 64) * 0x1000 + rng.int(0, 64) : addr(rng);
    const load = sane || rng.chance(0.8) ? header - rng.int(0, 64) : addr(rng);
    [header, load, rng.chance(0.5) ? 0 : load + rng.int(0, 2048), rng.chance(0.5) ? 0 : load + rng.int(0, 0x10000), load + rng.int(0, 128)].forEach((x, i) => d.setUint32(12 + 4 * i, u32(x), true));
  }
  return out;
}

function aoutImage(rng) {
  const out = rng.bytes(rng.int(32, 4096));
  const at = rng.chance(0.5) ? 0 : rng.int(0, (out.length - 32) >> 2) * 4;
  out.set(mbHeader(rng, true), at);
  return out;
}

function image(rng) {
  switch (rng.below(6)) {
    case 0:
      return bzImage(rng);
    case 1:
      return elf(rng, { pvh: true, multiboot: false });
    case 2:
      return elf(rng, { pvh: rng.chance(0.2), multiboot: true });
    case 3:
      return aoutImage(rng);
    case 4: {
      // A valid-looking image cut short or with a flipped byte.
      const img = image(rng);
      if (rng.chance(0.5)) return img.slice(0, rng.int(0, img.length));
      if (img.length) img[rng.int(0, img.length - 1)] ^= 1 << rng.int(0, 7);
      return img;
    }
    default:
      return rng.bytes(rng.int(0, 1024));
  }
}

function generate(rng) {
  const boot = {
    kind: 'kernel',
    image: rng.chance(0.95) ? image(rng) : v.junk(rng),
    ...(rng.chance(0.5) ? { initrd: rng.chance(0.9) ? { size: rng.chance(0.8) ? rng.int(1, 4 * MiB) : rng.int(0, 64 * MiB) } : v.junk(rng) } : {}),
    ...(rng.chance(0.6) ? { cmdline: rng.chance(0.8) ? v.string(rng, 100) : v.junk(rng) } : {}),
  };
  return { machineBytes: rng.chance(0.5) ? rng.pick([32 * MiB, 64 * MiB, 512 * MiB]) : rng.chance(0.8) ? rng.pick(MACHINE_SIZES) : rng.int(1, 1024) * 4096, boot: rng.chance(0.1) ? v.mutateObject(rng, boot) : boot };
}

const overlaps = (a, b) => a.start < b.end && b.start < a.end;
const hex = (n) => `0x${n.toString(16)}`;

function execute({ machineBytes, boot }) {
  // The initrd travels as its size (the corpus stays small); its bytes are made here.
  const initrd = boot && typeof boot === 'object' && boot.initrd && typeof boot.initrd === 'object' && Number.isSafeInteger(boot.initrd.size) ? new Uint8Array(boot.initrd.size) : boot?.initrd;
  const input = readKernelBoot(boot && typeof boot === 'object' ? { ...boot, ...(boot.initrd !== undefined ? { initrd } : {}) } : boot);
  const ram = x86ArchPlugin.memoryLayout(machineBytes).map((r) => ({ base: r.guestPhysAddr, size: r.size }));
  const plan = planKernelBoot({ ...input, ram });

  const usable = plan.memoryMap.filter((e) => e.type === 1).map((e) => ({ start: e.addr, end: e.addr + e.size }));
  const ranges = plan.ranges.filter((r) => r.end > r.start);
  for (const r of ranges) {
    invariant(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end), () => `${r.what}: not safe integers`);
    invariant(usable.some((m) => m.start <= r.start && r.end <= m.end), () => `${r.what} [${hex(r.start)}, ${hex(r.end)}) outside usable RAM`);
  }
  for (let i = 0; i < ranges.length; i++) for (let j = i + 1; j < ranges.length; j++) invariant(!overlaps(ranges[i], ranges[j]), () => `${ranges[i].what} overlaps ${ranges[j].what}`);
  for (const w of plan.writes) {
    if (w.bytes.length === 0) continue;
    invariant(ranges.some((r) => r.start <= w.gpa && w.gpa + w.bytes.length <= r.end), () => `a write of ${w.bytes.length} bytes at ${hex(w.gpa)} is inside no range`);
  }
  const rip = Number(plan.regs.rip);
  invariant(ranges.some((r) => r.what.startsWith('kernel') && r.start <= rip && rip < r.end), () => `entry ${hex(rip)} is in no kernel range`);
  if (input.initrd?.length) {
    invariant(plan.initrd?.size === input.initrd.length, 'the initrd is missing or of the wrong size');
    invariant(plan.initrd.start + plan.initrd.size <= 2 ** 32, 'the initrd ends above 4 GiB');
  }
  const cmdWrite = plan.writes.find((w) => w.gpa === ranges.find((r) => r.what === 'command line')?.start);
  invariant(cmdWrite && cmdWrite.bytes[cmdWrite.bytes.length - 1] === 0, 'no NUL-terminated command line written');
  const read = Buffer.from(cmdWrite.bytes.subarray(0, cmdWrite.bytes.indexOf(0))).toString('utf8');
  invariant(read === (input.cmdline ?? ''), () => `the kernel would read the command line as ${JSON.stringify(read.slice(0, 40))}, not ${JSON.stringify((input.cmdline ?? '').slice(0, 40))}`);
  if (plan.format === 'bzimage') {
    const h = parseBzImageHeader(input.image);
    if (plan.initrd) invariant(plan.initrd.start + plan.initrd.size - 1 <= h.initrdAddrMax, 'the initrd ends above initrd_addr_max');
    const cmd = ranges.find((r) => r.what === 'command line');
    invariant(cmd && cmd.end - cmd.start - 1 <= h.cmdlineSize, 'the command line is longer than cmdline_size');
  }
}

module.exports = { description: 'x86 kernel loaders: format detection, bzImage / PVH / Multiboot boot plans (readKernelBoot + planKernelBoot)', generate, execute };
