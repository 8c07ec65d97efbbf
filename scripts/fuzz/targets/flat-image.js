'use strict';
/**
 * `flat-image`: the x86 flat-image loader (arch-x86 loader/flat-image.ts, what prepareBoot runs
 * for `boot: { kind: 'flat' }`) with random images, load addresses, entry points, stacks, data
 * placements, register values and vCPU counts, into a real GuestMemory over fresh anonymous
 * mappings of random layout (RAM at 0, sometimes above 4 GiB). Must load or give a typed error;
 * what loads must hold the image at its load address and one initial state per vCPU.
 */
const path = require('node:path');
const native = require('@kvmts/native');
const { GuestMemory } = require('@kvmts/core');
const { loadFlatImage, X86_GPR_NAMES } = require('@kvmts/arch-x86');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');

const PAGE = 4096;
const RAM_SIZES = [PAGE, 16 * PAGE, 0x100000, 0x200000, 0x400000, 0x1000000];
/** Paths the loader may be asked to read: missing, a directory, a real small file. Never a device or FIFO. */
const IMAGE_PATHS = ['/nonexistent/kvmts-fuzz.bin', '/', path.join(__dirname, '..', 'lib', 'prng.js'), '', '\0'];

function registers(rng) {
  const r = {};
  for (let i = rng.int(0, 4); i > 0; i--) {
    const name = rng.chance(0.85) ? rng.pick(X86_GPR_NAMES) : rng.chance(0.5) ? rng.pick(v.POLLUTION_KEYS) : v.string(rng, 6);
    v.defineOwn(r, name, rng.chance(0.7) ? (rng.chance(0.5) ? BigInt(rng.u32()) << BigInt(rng.int(0, 40)) : rng.u32()) : v.junk(rng));
  }
  return r;
}

function generate(rng) {
  const ramLow = rng.pick(RAM_SIZES);
  const ramHigh = rng.chance(0.2) ? rng.pick(RAM_SIZES) : 0;
  const near = (hi) => v.intNear(rng, 0, hi, 0.2);
  const image = rng.chance(0.9) ? rng.bytes(rng.int(0, 2048)) : rng.chance(0.5) ? rng.pick(IMAGE_PATHS) : v.junk(rng);
  const boot = {
    kind: 'flat',
    image,
    ...(rng.chance(0.7) ? { loadAddress: rng.chance(0.5) ? 0x8000 : near(ramLow + PAGE) } : {}),
    ...(rng.chance(0.5) ? { entry: near(0x110000) } : {}),
    mode: rng.chance(0.9) ? rng.pick(['real', 'protected', 'long']) : v.junk(rng),
    ...(rng.chance(0.4) ? { cpl: rng.chance(0.8) ? rng.pick([0, 3]) : v.junk(rng) } : {}),
    ...(rng.chance(0.4) ? { stack: near(ramLow) } : {}),
    ...(rng.chance(0.3) ? { stackStride: near(0x10000) } : {}),
    ...(rng.chance(0.3) ? { mapBytes: rng.chance(0.7) ? rng.pick([0x200000, 0x40000000, 2 ** 32, 0x1000, 2 ** 33]) : v.number(rng) } : {}),
    ...(rng.chance(0.5) ? { registers: rng.chance(0.3) ? Array.from({ length: rng.int(0, 3) }, () => registers(rng)) : registers(rng) } : {}),
    ...(rng.chance(0.4) ? { data: rng.chance(0.1) ? v.junk(rng) : Array.from({ length: rng.int(0, 3) }, () => (rng.chance(0.85) ? { gpa: near(ramLow + PAGE), bytes: rng.bytes(rng.int(0, 64)) } : v.junk(rng))) } : {}),
  };
  return { ramLow, ramHigh, vcpus: rng.int(1, 4), boot: rng.chance(0.15) ? v.mutateObject(rng, boot) : boot };
}

/** A GuestMemory over fresh anonymous mappings, laid out as an x86 machine's RAM would be. */
function makeMemory(ramLow, ramHigh) {
  const c = native.constants;
  const mappings = [];
  const regions = [];
  const add = (name, gpa, size) => {
    const m = native.mmap(size, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS | c.MAP_NORESERVE);
    mappings.push(m);
    regions.push({ name, guestPhysAddr: gpa, size, kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false, slot: regions.length, mappingId: m.id, hostAddress: m.address });
  };
  add('ram-low', 0, ramLow);
  if (ramHigh > 0) add('ram-high', 2 ** 32, ramHigh);
  return { memory: new GuestMemory(regions), ramBelow4G: ramLow, release: () => mappings.forEach((m) => m.unmap()) };
}

function execute({ ramLow, ramHigh, vcpus, boot }) {
  const { memory, ramBelow4G, release } = makeMemory(ramLow, ramHigh);
  try {
    const states = loadFlatImage(boot, memory, vcpus, ramBelow4G);
    invariant(Array.isArray(states) && states.length === vcpus, `loadFlatImage returned ${states?.length} states for ${vcpus} vCPUs`);
    // Real mode writes no tables, so with no data placed the image must read back whole.
    if (boot.mode === 'real' && boot.image instanceof Uint8Array && !(boot.data?.length > 0)) {
      const load = boot.loadAddress ?? 0x8000;
      invariant(Buffer.from(memory.read(load, boot.image.length)).equals(boot.image), `the image does not read back at 0x${load.toString(16)}`);
    }
    for (const s of states) invariant(typeof s.regs === 'object' && typeof s.sregs === 'object', 'a state without regs or sregs');
  } finally {
    release();
  }
}

module.exports = { description: 'the x86 flat-image loader: random images, addresses, modes, stacks, data and registers', generate, execute };
