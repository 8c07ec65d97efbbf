import {
  ConfigError,
  GsiRoutingTable,
  KvmCap,
  KvmIrqRoutingEntryLayout,
  KvmIrqRoutingLayout,
  decodeGsiRouting,
  encodeGsiRouting,
  encodeMsi,
  type GsiRoute,
  type KvmVM,
} from '@kvmts/core';

/** Little-endian u32 words as hex, for golden byte strings. */
const words = (...w: number[]): string => w.map((x) => Buffer.from(new Uint32Array([x]).buffer).toString('hex')).join('');
const zeros = (n: number): string => '00'.repeat(n);

const table: GsiRoute[] = [
  { kind: 'irqchip', gsi: 4, irqchip: 2, pin: 4 },
  { kind: 'msi', gsi: 24, msi: { address: 0xfee01000, data: 0x41 } },
  { kind: 'msi', gsi: 25, msi: { address: 0x1_0000_2000n, data: 0x1234, devid: 7 } },
];

describe('GSI routing table encoding (KVM_SET_GSI_ROUTING)', () => {
  it('lays out the header and 48-byte entries as struct kvm_irq_routing does', () => {
    expect(KvmIrqRoutingLayout.size).toBe(8);
    expect(KvmIrqRoutingEntryLayout.size).toBe(48);
    const golden =
      words(3, 0) +
      // irqchip: gsi, type 1, flags, pad, irqchip, pin, then the rest of the 32-byte union
      words(4, 1, 0, 0, 2, 4) + zeros(24) +
      // msi: gsi, type 2, flags, pad, address_lo, address_hi, data, devid
      words(24, 2, 0, 0, 0xfee01000, 0, 0x41, 0) + zeros(16) +
      // msi with a device id: flags = KVM_MSI_VALID_DEVID
      words(25, 2, 1, 0, 0x2000, 1, 0x1234, 7) + zeros(16);
    expect(Buffer.from(encodeGsiRouting(table)).toString('hex')).toBe(golden);
  });

  it('decodes what it encodes', () => {
    const decoded = decodeGsiRouting(encodeGsiRouting(table));
    expect(decoded).toEqual([
      table[0],
      { kind: 'msi', gsi: 24, msi: { address: 0xfee01000n, data: 0x41 } },
      { kind: 'msi', gsi: 25, msi: { address: 0x1_0000_2000n, data: 0x1234, devid: 7 } },
    ]);
    expect(encodeGsiRouting([])).toEqual(new Uint8Array(8));
  });

  it('names the bad entry and field', () => {
    const bad = (route: unknown, setting: string): void => {
      const f = (): unknown => encodeGsiRouting([table[0], route as GsiRoute]);
      expect(f).toThrow(ConfigError);
      expect(f).toThrow(expect.objectContaining({ setting }));
    };
    bad({ kind: 'irqchip', gsi: -1, irqchip: 0, pin: 0 }, 'gsiRouting[1].gsi');
    bad({ kind: 'irqchip', gsi: 1, irqchip: 0, pin: 1.5 }, 'gsiRouting[1].pin');
    bad({ kind: 'msi', gsi: 30, msi: { address: 1n << 64n, data: 0 } }, 'gsiRouting[1].msi.address');
    bad({ kind: 'msi', gsi: 30, msi: { address: 0xfee00000, data: 2 ** 32 } }, 'gsiRouting[1].msi.data');
    bad({ kind: 'msi', gsi: 30, msi: { address: 0xfee00000, data: 0, devid: -2 } }, 'gsiRouting[1].msi.devid');
    bad({ kind: 'adapter', gsi: 30 }, 'gsiRouting[1].kind');
    bad({ kind: 'msi', gsi: 30 }, 'gsiRouting[1].msi');
  });

  it('refuses to decode a type it does not know, or a truncated table', () => {
    const bytes = encodeGsiRouting([table[0]]);
    new DataView(bytes.buffer).setUint32(8 + KvmIrqRoutingEntryLayout.fields.type.offset, 3, true);
    expect(() => decodeGsiRouting(bytes)).toThrow(/gsiRouting\[0\]\.type: routing type 3/);
    expect(() => decodeGsiRouting(encodeGsiRouting(table).subarray(0, 100))).toThrow(/cannot hold 3 entries/);
  });
});

describe('struct kvm_msi (KVM_SIGNAL_MSI)', () => {
  it('encodes address halves, data, and the device id only when given', () => {
    const hex = (v: DataView): string => Buffer.from(v.buffer).toString('hex');
    expect(hex(encodeMsi({ address: 0xfee00000, data: 0x40 }))).toBe(words(0xfee00000, 0, 0x40, 0, 0) + zeros(12));
    expect(hex(encodeMsi({ address: 0x8_0804_0000n, data: 5, devid: 0x10 }))).toBe(words(0x08040000, 8, 5, 1, 0x10) + zeros(12));
    expect(() => encodeMsi({ address: -1, data: 0 })).toThrow(/msi\.address: must be an unsigned 64-bit integer/);
  });
});

describe('GsiRoutingTable', () => {
  /** The table only asks the VM how many GSIs it routes; commit() is exercised on real KVM (interrupts.kvm). */
  const vmRouting = (gsis: number): KvmVM => ({ fd: -1, checkExtension: (cap: KvmCap) => (cap === KvmCap.IRQ_ROUTING ? gsis : 0) }) as unknown as KvmVM;
  const defaults: GsiRoute[] = [
    { kind: 'irqchip', gsi: 0, irqchip: 2, pin: 0 },
    { kind: 'irqchip', gsi: 1, irqchip: 2, pin: 1 },
  ];

  it('keeps the defaults and adds MSI routes on the lowest GSIs above them', () => {
    const t = new GsiRoutingTable(vmRouting(4), defaults);
    expect(t.addMsiRoute({ address: 0xfee00000, data: 0x30 })).toBe(2);
    expect(t.addMsiRoute({ address: 0xfee00000, data: 0x31 })).toBe(3);
    expect(() => t.addMsiRoute({ address: 0xfee00000, data: 0x32 })).toThrow(/no free GSI: this KVM routes 4/);
    t.setMsiRoute(2, { address: 0xfee01000, data: 0x33 });
    expect(t.routes.slice(2)).toEqual([
      { kind: 'msi', gsi: 2, msi: { address: 0xfee01000, data: 0x33 } },
      { kind: 'msi', gsi: 3, msi: { address: 0xfee00000, data: 0x31 } },
    ]);
    t.removeRoutes(3);
    expect(t.routes.map((r) => r.gsi)).toEqual([0, 1, 2]);
    expect(() => t.setMsiRoute(0, { address: 0xfee00000, data: 0 })).toThrow(/GSI 0 is not an MSI route/);
    expect(() => t.addMsiRoute({ address: 0xfee00000, data: -1 })).toThrow(ConfigError);
  });

  it('is a ConfigError on a KVM without KVM_CAP_IRQ_ROUTING', () => {
    expect(() => new GsiRoutingTable(vmRouting(0), defaults)).toThrow(/lacks KVM_CAP_IRQ_ROUTING/);
  });
});
