import { ConfigError } from '@kvmts/core';
import { ARM64_IRQ_LINE_MAX_VCPUS, decodeIrqLine, encodeIrqLine } from '../src/abi';

describe('KVM_IRQ_LINE encoding (type, vcpu, vcpu2, number)', () => {
  it('encodes the reference examples: SPI n is 1<<24 | 32+n, the vtimer PPI of vCPU 3 is 0x0203001B', () => {
    expect(encodeIrqLine({ type: 'spi', intid: 32 + 5 })).toBe(0x0100_0025);
    expect(encodeIrqLine({ type: 'ppi', vcpu: 3, intid: 27 })).toBe(0x0203_001b);
    expect(encodeIrqLine({ type: 'cpu', vcpu: 0, line: 'irq' })).toBe(0x0000_0000);
    expect(encodeIrqLine({ type: 'cpu', vcpu: 2, line: 'fiq' })).toBe(0x0002_0001);
  });

  it('puts vCPUs beyond 255 in vcpu2_index (bits 31:28), which gem5 dropped', () => {
    // vCPU 300 = 1 * 256 + 44
    expect(encodeIrqLine({ type: 'ppi', vcpu: 300, intid: 27 })).toBe(0x122c_001b);
    // vcpu2 = 15 sets bit 31: still an unsigned number
    expect(encodeIrqLine({ type: 'cpu', vcpu: ARM64_IRQ_LINE_MAX_VCPUS - 1, line: 'irq' })).toBe(0xf0ff_0000);
  });

  it('decodes what it encodes', () => {
    const lines = [
      { type: 'spi', intid: 1019 },
      { type: 'ppi', vcpu: 4095, intid: 16 },
      { type: 'cpu', vcpu: 256, line: 'fiq' },
    ] as const;
    for (const line of lines) expect(decodeIrqLine(encodeIrqLine(line))).toEqual(line);
  });

  it('refuses fields out of range with a ConfigError naming the field', () => {
    const bad = [
      [{ type: 'spi', intid: 31 }, 'irqLine.intid'],
      [{ type: 'spi', intid: 1020 }, 'irqLine.intid'],
      [{ type: 'ppi', vcpu: 0, intid: 15 }, 'irqLine.intid'],
      [{ type: 'ppi', vcpu: 4096, intid: 27 }, 'irqLine.vcpu'],
      [{ type: 'cpu', vcpu: -1, line: 'irq' }, 'irqLine.vcpu'],
    ] as const;
    for (const [line, setting] of bad) {
      expect(() => encodeIrqLine(line)).toThrow(ConfigError);
      try {
        encodeIrqLine(line);
      } catch (e) {
        expect((e as ConfigError).setting).toBe(setting);
      }
    }
    expect(() => decodeIrqLine(3 << 24)).toThrow(/irq_type 3/);
  });
});
