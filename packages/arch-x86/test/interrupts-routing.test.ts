import { ConfigError, decodeGsiRouting, encodeGsiRouting, type KvmVM } from '@kvmts/core';
import { X86_DEFAULT_GSI_ROUTES, X86Irqchip, x86GsiRouting, x86Msi } from '@kvmts/arch-x86';

describe('x86 default GSI routes (what KVM_CREATE_IRQCHIP installs)', () => {
  it('GSI n is IOAPIC pin n for n < 24, and PIC pin n % 8 of the master or slave for n < 16', () => {
    expect(X86_DEFAULT_GSI_ROUTES).toHaveLength(24 + 16);
    const { IOAPIC, PIC_MASTER, PIC_SLAVE } = X86Irqchip;
    const of = (gsi: number): unknown[] => X86_DEFAULT_GSI_ROUTES.filter((r) => r.gsi === gsi);
    expect(of(0)).toEqual([{ kind: 'irqchip', gsi: 0, irqchip: IOAPIC, pin: 0 }, { kind: 'irqchip', gsi: 0, irqchip: PIC_MASTER, pin: 0 }]);
    expect(of(4)).toEqual([{ kind: 'irqchip', gsi: 4, irqchip: IOAPIC, pin: 4 }, { kind: 'irqchip', gsi: 4, irqchip: PIC_MASTER, pin: 4 }]);
    expect(of(9)).toEqual([{ kind: 'irqchip', gsi: 9, irqchip: IOAPIC, pin: 9 }, { kind: 'irqchip', gsi: 9, irqchip: PIC_SLAVE, pin: 1 }]);
    expect(of(15)).toEqual([{ kind: 'irqchip', gsi: 15, irqchip: IOAPIC, pin: 15 }, { kind: 'irqchip', gsi: 15, irqchip: PIC_SLAVE, pin: 7 }]);
    expect(of(23)).toEqual([{ kind: 'irqchip', gsi: 23, irqchip: IOAPIC, pin: 23 }]);
    expect(of(24)).toEqual([]);
  });

  it('encodes to 8 + 40 × 48 bytes and back unchanged', () => {
    const bytes = encodeGsiRouting(X86_DEFAULT_GSI_ROUTES);
    expect(bytes.byteLength).toBe(8 + 40 * 48);
    expect(decodeGsiRouting(bytes)).toEqual(X86_DEFAULT_GSI_ROUTES);
  });
});

describe('x86Msi', () => {
  it('puts the APIC id in address bits 19:12 and the vector in data bits 7:0 (fixed, edge)', () => {
    expect(x86Msi({ apicId: 0, vector: 0x40 })).toEqual({ address: 0xfee00000, data: 0x40 });
    expect(x86Msi({ apicId: 0xff, vector: 0xff })).toEqual({ address: 0xfeeff000, data: 0xff });
  });

  it('rejects an APIC id above 255 and the exception vectors', () => {
    expect(() => x86Msi({ apicId: 256, vector: 0x40 })).toThrow(ConfigError);
    expect(() => x86Msi({ apicId: 0, vector: 15 })).toThrow(/msi\.vector: must be an integer 16\.\.255, got 15/);
  });
});

describe('x86GsiRouting', () => {
  it("is a ConfigError for a VM without the in-kernel irqchip", () => {
    expect(() => x86GsiRouting({} as KvmVM)).toThrow(/archOptions\.irqchip: GSI routing needs the in-kernel irqchip/);
  });
});
