'use strict';
/**
 * `config`: the checks createMachine makes before it opens /dev/kvm — the top-level options
 * (checkMachineOptions, run()'s maxExits, the memoryLimit setting), vcpuCount, parseSize and
 * the arch's memoryLayout of the size, prepareDevices (each device plugin's validate and
 * placement, names, shared-state sizes) and the arch options (x86MachineOptions with the CPUID
 * request checker, arm64MachineOptions). Plugin modules are registered from the arch packages
 * directly (loading a module by a random name would run arbitrary code). A random config must
 * pass or give a typed error; what passes must be self-consistent.
 */
const { checkMachineOptions, checkMaxExits, createIsolatedContainer, guestMemoryLimit, parseSize, prepareDevices, vcpuCount } = require('@kvmts/core');
const x86 = require('@kvmts/arch-x86');
const arm64 = require('@kvmts/arch-arm64');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');

const ARCHES = {
  x86_64: { register: x86.register, plugin: x86.x86ArchPlugin, options: x86.x86MachineOptions },
  arm64: { register: arm64.register, plugin: arm64.arm64ArchPlugin, options: arm64.arm64MachineOptions },
};

/** One container per arch with its plugin and devices registered, built once per worker. */
const containers = new Map();
function containerFor(arch) {
  let c = containers.get(arch);
  if (c === undefined) {
    c = createIsolatedContainer();
    ARCHES[arch].register(c);
    containers.set(arch, c);
  }
  return c;
}

const CPUID_FEATURES = Object.keys(x86.X86_CPUID_FEATURES);
const REGISTERS = ['eax', 'ebx', 'ecx', 'edx'];

function cpuidBit(rng) {
  return rng.chance(0.5)
    ? rng.chance(0.9) ? rng.pick(CPUID_FEATURES) : v.string(rng, 12)
    : v.mutateObject(rng, { leaf: v.intNear(rng, 0, 0x80000008), subleaf: v.intNear(rng, 0, 3), register: rng.pick(REGISTERS), bit: v.intNear(rng, 0, 31) });
}

function list(rng, item) {
  return rng.chance(0.1) ? v.junk(rng) : Array.from({ length: rng.int(0, 3) }, () => item(rng));
}

function cpuidRequest(rng) {
  const valid = {};
  if (rng.chance(0.4)) valid.vendor = rng.chance(0.6) ? rng.pick(['GenuineIntel', 'AuthenticAMD', 'KVMKVMKVM\0\0\0']) : v.string(rng, 14);
  if (rng.chance(0.4)) valid.brand = v.string(rng, 50);
  if (rng.chance(0.5)) valid.require = list(rng, cpuidBit);
  if (rng.chance(0.5)) valid.disable = list(rng, cpuidBit);
  if (rng.chance(0.3)) valid.masks = list(rng, (r) => v.mutateObject(r, { leaf: v.intNear(r, 0, 0x80000008), register: r.pick(REGISTERS), keep: v.number(r) }));
  if (rng.chance(0.3)) valid.threadsPerCore = v.intNear(rng, 1, 8);
  return v.mutateObject(rng, valid, 0.2);
}

function archOptions(rng, arch) {
  if (rng.chance(0.15)) return v.junk(rng);
  if (arch === 'x86_64') return v.mutateObject(rng, { irqchip: rng.pick(['kernel', 'none', 'KERNEL', '']), ...(rng.chance(0.6) ? { cpuid: cpuidRequest(rng) } : {}) }, 0.2);
  return v.mutateObject(rng, { gic: rng.pick(['kernel', 'none', 'vgic']), gicIrqs: v.intNear(rng, 32, 1100), timer: rng.pick(['kernel', 'none', 'simulated']) }, 0.2);
}

function deviceSpec(rng, arch) {
  if (rng.chance(0.1)) return v.junk(rng);
  const port = () => v.intNear(rng, 0, 0x10000);
  const specs = {
    x86_64: [
      () => x86.uart8250(v.mutateObject(rng, { port: port(), irq: v.intNear(rng, 0, 24), rxQueueBytes: rng.pick([16, 256, 65536, 100, 0, 131072]) }, 0.2), rng.chance(0.3) ? v.string(rng, 8) : undefined),
      () => x86.exitDevice(v.mutateObject(rng, { port: port() }, 0.2), rng.chance(0.3) ? v.string(rng, 8) : undefined),
    ],
    arm64: [
      () => arm64.pl011(v.mutateObject(rng, { base: v.intNear(rng, 0, 2 ** 40), spi: v.intNear(rng, 0, 1000), rxQueueBytes: rng.pick([16, 256, 65536, 3]) }, 0.2), rng.chance(0.3) ? v.string(rng, 8) : undefined),
    ],
  };
  const spec = rng.pick(specs[arch])();
  // Sometimes a device of the other arch (its address space may not exist here), or a mangled spec.
  if (rng.chance(0.1)) return rng.pick(specs[arch === 'x86_64' ? 'arm64' : 'x86_64'])();
  return rng.chance(0.2) ? v.mutateObject(rng, spec, 0.3) : spec;
}

function memory(rng) {
  switch (rng.below(4)) {
    case 0:
      return v.intNear(rng, 1, 2 ** 33);
    case 1:
      return `${rng.int(0, 5000)}${rng.pick(['', 'k', 'M', 'G', 'm', 'K', 'T', 'MiB', 'mb', ' M', 'x'])}`;
    case 2:
      return v.string(rng, 8);
    default:
      return v.junk(rng);
  }
}

function generate(rng) {
  const arch = rng.pick(['x86_64', 'arm64']);
  return {
    arch,
    config: v.mutateObject(rng, {
      arch,
      memory: memory(rng),
      cpus: v.intNear(rng, 1, 8),
      devices: rng.chance(0.1) ? v.junk(rng) : Array.from({ length: rng.int(0, 4) }, () => deviceSpec(rng, arch)),
      archOptions: archOptions(rng, arch),
      ...(rng.chance(0.3) ? { unclaimed: rng.chance(0.7) ? rng.pick(['ignore', 'error']) : v.junk(rng) } : {}),
      ...(rng.chance(0.3) ? { stopTimeoutMs: rng.chance(0.7) ? v.intNear(rng, 1, 2 ** 31) : v.junk(rng) } : {}),
      ...(rng.chance(0.2) ? { coalesced: rng.chance(0.2) ? v.junk(rng) : [v.mutateObject(rng, { base: v.intNear(rng, 0, 0x10000), size: v.intNear(rng, 1, 2 ** 32), pio: rng.chance(0.5) }, 0.3)] } : {}),
      ...(rng.chance(0.2) ? { memoryLimit: rng.chance(0.5) ? rng.pick(['unlimited', '1G', '64M', 0, -1]) : v.junk(rng) } : {}),
    }, 0.1),
    maxExits: rng.chance(0.7) ? v.intNear(rng, 1, 1000) : v.junk(rng),
  };
}

function execute({ arch, config, maxExits }) {
  const { plugin, options } = ARCHES[arch];
  checkMachineOptions(config);
  const limit = checkMaxExits(maxExits);
  invariant(limit === undefined || (Number.isSafeInteger(limit) && limit >= 1), `checkMaxExits returned ${limit}`);
  if (config.memoryLimit !== undefined) guestMemoryLimit(config.memoryLimit, {}, () => undefined);
  const cpus = vcpuCount(config);
  invariant(Number.isInteger(cpus) && cpus >= 1, `vcpuCount returned ${cpus}`);
  // The size as prepareVm reads it: a byte count or string, laid out by the arch.
  if (!Array.isArray(config.memory)) {
    const bytes = parseSize(config.memory);
    if (bytes !== undefined) {
      invariant(Number.isSafeInteger(bytes) && bytes > 0, `parseSize(${String(config.memory)}) = ${bytes}`);
      const regions = plugin.memoryLayout(bytes);
      const total = regions.reduce((n, r) => n + r.size, 0);
      invariant(total === bytes, `memoryLayout(${bytes}) covers ${total} bytes`);
      for (const r of regions) invariant(r.size > 0 && Number.isSafeInteger(r.guestPhysAddr), `memoryLayout(${bytes}) made region ${JSON.stringify(r)}`);
    }
  }
  const devices = prepareDevices(containerFor(arch), config.devices ?? [], plugin.addressSpaces);
  invariant(new Set(devices.map((d) => d.name)).size === devices.length, 'prepareDevices gave two devices the same name');
  const checked = options(config.archOptions);
  invariant(typeof checked === 'object' && checked !== null, 'arch options check returned no object');
}

module.exports = { description: 'machine config checks made before /dev/kvm opens (sizes, vCPUs, devices, arch options, CPUID request)', generate, execute };
