/** The x86 CPU fingerprint and in-kernel state components, as pure logic (golden values). */
import { fingerprintMismatches } from '@kvmts/core';
import { x86FingerprintFrom, x86Signature, x86VmComponents, type CpuidEntry } from '@kvmts/arch-x86';

/** Leaf 7 has sub-leaves: KVM marks its entries KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1). */
const entry = (fn: number, index: number, regs: Partial<Pick<CpuidEntry, 'eax' | 'ebx' | 'ecx' | 'edx'>>): CpuidEntry => ({ function: fn, index, flags: fn === 7 ? 1 : 0, eax: 0, ebx: 0, ecx: 0, edx: 0, ...regs });

// "GenuineIntel": ebx 'Genu', edx 'ineI', ecx 'ntel'.
const INTEL_LEAF0 = entry(0, 0, { eax: 0xd, ebx: 0x756e6547, edx: 0x49656e69, ecx: 0x6c65746e });

describe('x86 CPU fingerprint', () => {
  it.each([
    [0x000906ea, { family: 0x6, model: 0x9e }], // Coffee Lake (extended model)
    [0x00a20f10, { family: 0x19, model: 0x21 }], // AMD Zen 3 (extended family and model)
    [0x00000f41, { family: 0xf, model: 0x4 }], // Pentium 4: extended family 0
    [0x00000543, { family: 0x5, model: 0x4 }], // P5: no extended fields
  ])('decodes the signature %s', (eax, expected) => {
    expect(x86Signature(eax)).toEqual(expected);
  });

  it('records vendor, family/model and the guest feature words minus the bits KVM rewrites', () => {
    const supported = [INTEL_LEAF0, entry(1, 0, { eax: 0x000906ea, ecx: 0xffffffff, edx: 0xffffffff }), entry(7, 0, { ebx: 0xffff })];
    // The guest table: OSXSAVE (leaf 1 ecx bit 27) and APIC (edx bit 9) are KVM's to change at run time.
    const guest = [INTEL_LEAF0, entry(1, 0, { ecx: 0x0800_0001, edx: 0x0000_0201 }), entry(7, 0, { ebx: 0x29, ecx: 0x10 })];
    const fp = x86FingerprintFrom(supported, guest);
    expect(fp.kind).toBe('x86-cpuid');
    expect(fp.identity).toEqual({ vendor: 'GenuineIntel', family: '0x6', model: '0x9e' });
    expect(fp.features).toEqual({
      'cpuid leaf 0x1.0 ecx': '0x1',
      'cpuid leaf 0x1.0 edx': '0x1',
      'cpuid leaf 0x7.0 ebx': '0x29',
      'cpuid leaf 0x7.0 ecx': '0x0', // OSPKE (bit 4) is dynamic
      'cpuid leaf 0x7.0 edx': '0x0',
    });
    expect(fp.digest).toMatch(/^[0-9a-f]{64}$/);
    // The digest covers the supported table, in any order.
    expect(x86FingerprintFrom([...supported].reverse(), guest).digest).toBe(fp.digest);
  });

  it('a host whose guest table lacks a saved feature bit is named by leaf, register and bit', () => {
    const supported = [INTEL_LEAF0, entry(1, 0, { eax: 0x000906ea })];
    const saved = x86FingerprintFrom(supported, [INTEL_LEAF0, entry(7, 0, { ebx: 0x29 })]);
    const here = x86FingerprintFrom(supported, [INTEL_LEAF0, entry(7, 0, { ebx: 0x09 })]);
    expect(fingerprintMismatches(saved, here)).toEqual(['cpuid leaf 0x7.0 ebx: bit 5 set at save, not offered here']);
  });
});

describe('x86 in-kernel state components', () => {
  it('are kvmclock alone without the in-kernel irqchip, and kvmclock, PIT, PICs/IOAPIC with it', () => {
    expect(x86VmComponents({ arch: 'x86_64', memory: 4096 }).map((c) => c.name)).toEqual(['x86.clock']);
    expect(x86VmComponents({ arch: 'x86_64', memory: 4096, archOptions: { irqchip: 'kernel' } }).map((c) => c.name)).toEqual(['x86.clock', 'x86.pit', 'x86.irqchip', 'x86.gsi-routing']);
    expect(x86VmComponents({ arch: 'x86_64', memory: 4096, archOptions: { irqchip: 'userspace' } }).map((c) => c.name)).toEqual(['x86.clock', 'x86.userspace-irq']);
  });
});
