/**
 * Does a checkpoint fit an existing machine (restore-shape.ts, what Machine.restore asks first)?
 * The checkpoint side is read from the manifest's config as saved — tagged JSON, written by
 * toTagged and round-tripped through JSON as a manifest file is — and compared as one string per
 * side; these tests pin that the strings are equal exactly when the old field-by-field comparison
 * (canonicalise both configs) says so, and the messages that name a difference.
 */
import { shapeMismatch, type MachineShapeSource, type RegionShape } from '../src/checkpoint/restore-shape';
import { toTagged } from '../src/checkpoint/tagged-json';
import type { MachineConfig } from '../src/machine/machine-config';

const RAM: RegionShape = { name: 'ram-low', guestPhysAddr: 0, size: 16 << 20, kvmMap: true, inAddrMap: true, readOnly: false };

function machine(config: Partial<MachineConfig>, regions: RegionShape[] = [RAM], vcpus = 1): MachineShapeSource {
  return { config: { arch: 'x86_64', memory: 16 << 20, ...config } as MachineConfig, vcpus: { length: vcpus }, vm: { regions } };
}

/** The manifest of a checkpoint of a machine made from `config`: its config as a manifest file holds it. */
function manifestOf(config: Partial<MachineConfig>, regions: RegionShape[] = [RAM], vcpus = 1) {
  const { boot: _boot, memory: _memory, ...rest } = { arch: 'x86_64', ...config } as MachineConfig;
  const tagged = JSON.parse(JSON.stringify(toTagged({ ...rest, memory: regions }, 'config'))) as unknown;
  return { arch: 'x86_64', vcpus, config: tagged, memory: { regions: regions.map((r) => ({ ...r, fileOffset: 0 })) } } as unknown as Parameters<typeof shapeMismatch>[1];
}

describe('shapeMismatch', () => {
  const options = {
    archOptions: { irqchip: 'kernel', cpuid: { set: [{ leaf: 1, ecx: 1n << 31n }] }, blob: new Uint8Array([1, 2, 3]) },
    devices: [{ type: 'uart8250', name: 'com1', options: { port: 0x3f8, irq: 4 } }],
  } as unknown as Partial<MachineConfig>;

  it('fits a machine made from the same config: bigints, bytes, nesting and key order survive the manifest', () => {
    expect(shapeMismatch(machine(options), manifestOf(options))).toBeUndefined();
    // Another object with the same content (a machine made from checkpointConfig(dir)) fits too.
    expect(shapeMismatch(machine(structuredClone(options)), manifestOf(options))).toBeUndefined();
    expect(shapeMismatch(machine({}), manifestOf({}))).toBeUndefined();
  });

  it('fits a machine whose config has the same content in another key order (keys compared sorted)', () => {
    const reordered = {
      devices: [{ options: { irq: 4, port: 0x3f8 }, name: 'com1', type: 'uart8250' }],
      archOptions: { blob: new Uint8Array([1, 2, 3]), cpuid: { set: [{ ecx: 1n << 31n, leaf: 1 }] }, irqchip: 'kernel' },
    } as unknown as Partial<MachineConfig>;
    expect(shapeMismatch(machine(reordered), manifestOf(options))).toBeUndefined();
    // Arrays keep their order: the same devices listed the other way round do not fit.
    const two = { devices: [{ type: 'a', name: 'x' }, { type: 'b', name: 'y' }] } as unknown as Partial<MachineConfig>;
    const swapped = { devices: [{ type: 'b', name: 'y' }, { type: 'a', name: 'x' }] } as unknown as Partial<MachineConfig>;
    expect(shapeMismatch(machine(swapped), manifestOf(two))).toMatch(/^config\.devices differs/);
  });

  it('compares the regions on every call: a region the VM gained after the first restore is seen', () => {
    const regions = [RAM];
    const m = machine(options, regions);
    expect(shapeMismatch(m, manifestOf(options))).toBeUndefined();
    regions.push({ ...RAM, name: 'rom', guestPhysAddr: 0xfff00000, size: 4096, readOnly: true });
    expect(shapeMismatch(m, manifestOf(options))).toMatch(/^memory regions differ: .*'rom' at 0xfff00000, 4096 bytes, read-only$/);
  });

  it('names the arch, the vCPU count and the regions before the config fields', () => {
    expect(shapeMismatch(machine(options), { ...manifestOf(options), arch: 'arm64' })).toBe('the checkpoint is of an arm64 machine, this one is x86_64');
    expect(shapeMismatch(machine(options, [RAM], 2), manifestOf(options))).toBe('the checkpoint has 1 vCPUs, this machine 2');
    const bigger = { ...RAM, size: 32 << 20 };
    expect(shapeMismatch(machine(options, [bigger]), manifestOf(options))).toBe(
      "memory regions differ: saved 'ram-low' at 0x0, 16777216 bytes, this machine 'ram-low' at 0x0, 33554432 bytes",
    );
    const readOnly = { ...RAM, readOnly: true, kvmMap: false };
    expect(shapeMismatch(machine(options, [readOnly]), manifestOf(options))).toBe(
      "memory regions differ: saved 'ram-low' at 0x0, 16777216 bytes, this machine 'ram-low' at 0x0, 16777216 bytes, not a KVM slot, read-only",
    );
  });

  it('names the first shaping field that differs, both sides in canonical JSON', () => {
    const other = { ...options, archOptions: { ...(options.archOptions as object), irqchip: 'userspace' } } as Partial<MachineConfig>;
    expect(shapeMismatch(machine(other), manifestOf(options))).toBe(
      'config.archOptions differs: saved {"blob":{"$bytes":"AQID"},"cpuid":{"set":[{"ecx":{"$bigint":"0x80000000"},"leaf":1}]},"irqchip":"kernel"}, ' +
        'this machine {"blob":{"$bytes":"AQID"},"cpuid":{"set":[{"ecx":{"$bigint":"0x80000000"},"leaf":1}]},"irqchip":"userspace"}',
    );
    expect(shapeMismatch(machine({ ...options, devices: [] }), manifestOf(options))).toBe(
      'config.devices differs: saved [{"name":"com1","options":{"irq":4,"port":1016},"type":"uart8250"}], this machine []',
    );
    // Absent and undefined are the same (toTagged drops undefined; neither side has the field).
    expect(shapeMismatch(machine({ devices: undefined }), manifestOf({}))).toBeUndefined();
    expect(shapeMismatch(machine({ devices: [] }), manifestOf({}))).toBe('config.devices differs: saved null, this machine []');
  });

  it('a bigint that differs only in value is a difference (no decode needed to see it)', () => {
    const a = { archOptions: { tscKhz: 1_000_000n } } as unknown as Partial<MachineConfig>;
    const b = { archOptions: { tscKhz: 1_000_001n } } as unknown as Partial<MachineConfig>;
    expect(shapeMismatch(machine(a), manifestOf(b))).toBe('config.archOptions differs: saved {"tscKhz":{"$bigint":"0xf4241"}}, this machine {"tscKhz":{"$bigint":"0xf4240"}}');
  });

  it('computes the machine side once per machine, not once per config object', () => {
    const m = machine(options);
    const saved = manifestOf(options);
    expect(shapeMismatch(m, saved)).toBeUndefined();
    // What is memoised is the machine's (its VM's) answer: the same machine asks again cheaply.
    (m.config.archOptions as Record<string, unknown>).irqchip = 'none';
    expect(shapeMismatch(m, saved)).toBeUndefined();
    // Another machine made from that same (now changed) config object gets its own answer.
    const next: MachineShapeSource = { ...m, vm: { regions: [RAM] } };
    expect(shapeMismatch(next, saved)).toMatch(/^config\.archOptions differs: .*"irqchip":"none"/);
    // A config that cannot be saved was refused at checkpoint time; canonicalising it still names where.
    const bad = machine({ archOptions: { f: () => 1 } } as unknown as Partial<MachineConfig>);
    expect(() => shapeMismatch(bad, saved)).toThrow(/machine config\.archOptions\.f/);
  });
});
