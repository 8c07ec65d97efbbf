/**
 * Guest CPUID as pure functions, on the supported table measured in the nested-x86 tier:
 * KVM_GET_SUPPORTED_CPUID ∩ the request, the per-vCPU normalisation (golden tables), and the
 * ConfigError a request the host cannot meet produces (naming leaf, register and bit).
 */
import { ConfigError } from '@kvmts/core';
import { buildCpuidTables, checkCpuidRequest, x86MachineOptions, type CpuidEntry, type X86CpuidRequest } from '@kvmts/arch-x86';
import { NESTED_SVM_SUPPORTED_CPUID as HOST } from './fixtures/host-tables';

const e = (fn: number, index: number, flags: number, eax: number, ebx: number, ecx: number, edx: number): CpuidEntry => ({ function: fn, index, flags, eax, ebx, ecx, edx });
const leaf = (t: CpuidEntry[], fn: number, index = 0) => t.find((x) => x.function === fn && x.index === index);
const tables = (request: X86CpuidRequest, vcpuCount = 1, inKernelLapic = true) => buildCpuidTables(HOST, checkCpuidRequest(request), { vcpuCount, inKernelLapic });

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('guest CPUID: normalisation per vCPU (golden)', () => {
  it('vCPU 1 of 2 with an in-kernel LAPIC: APIC id, counts, HTT, hypervisor, TSC-deadline, topology leaves', () => {
    expect(tables({}, 2)[1]).toEqual([
      e(0x0, 0x0, 0x0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
      e(0x1, 0x0, 0x0, 0x60fb1, 0x1020800, 0xf7f83203, 0x1f8bfbfd),
      e(0x2, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x3, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x4, 0x0, 0x1, 0x0, 0x0, 0x0, 0x0),
      e(0x5, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x6, 0x0, 0x0, 0x4, 0x0, 0x0, 0x0),
      e(0x7, 0x0, 0x1, 0x0, 0x19803ab, 0x1020c, 0x20000000),
      e(0x8, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x9, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0xa, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0xb, 0x0, 0x1, 0x0, 0x1, 0x100, 0x1),
      e(0xb, 0x1, 0x1, 0x1, 0x2, 0x201, 0x1),
      e(0xb, 0x2, 0x1, 0x0, 0x0, 0x2, 0x1),
      e(0xc, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0xd, 0x0, 0x1, 0x207, 0xa88, 0xa88, 0x0),
      e(0xd, 0x1, 0x1, 0x5, 0x0, 0x0, 0x0),
      e(0xd, 0x2, 0x1, 0x100, 0x240, 0x0, 0x0),
      e(0xd, 0x9, 0x1, 0x8, 0xa80, 0x0, 0x0),
      e(0x80000000, 0x0, 0x0, 0x8000000a, 0x68747541, 0x444d4163, 0x69746e65),
      e(0x80000001, 0x0, 0x0, 0x60fb1, 0x0, 0x77, 0xedd3fbfd),
      e(0x80000002, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x80000003, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x80000004, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x80000005, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x80000006, 0x0, 0x0, 0x0, 0x42004200, 0x2008140, 0x808140),
      e(0x80000007, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x80000008, 0x0, 0x0, 0x3928, 0x4000000, 0x1001, 0x0),
      e(0x80000009, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0),
      e(0x8000000a, 0x0, 0x0, 0x1, 0x8, 0x0, 0x10010021),
      e(0x40000000, 0x0, 0x0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      e(0x40000001, 0x0, 0x0, 0x1007efb, 0x0, 0x0, 0x0),
    ]);
  });

  it('vCPUs differ only in their APIC ids (leaf 1 EBX[31:24], the x2APIC id in 0xB EDX)', () => {
    const [a, b, c] = tables({}, 3);
    const differing = (x: CpuidEntry[], y: CpuidEntry[]) => x.flatMap((ex, i) => (['eax', 'ebx', 'ecx', 'edx'] as const).filter((r) => ex[r] !== y[i][r]).map((r) => `${ex.function.toString(16)}.${ex.index}.${r}`));
    expect(differing(a, c)).toEqual(['1.0.ebx', 'b.0.edx', 'b.1.edx', 'b.2.edx']);
    expect([a, b, c].map((t) => leaf(t, 1)!.ebx >>> 24)).toEqual([0, 1, 2]);
    // three vCPUs: 4 addressable ids per package, NC = 2, ApicIdSize = 2
    expect((leaf(a, 1)!.ebx >>> 16) & 0xff).toBe(4);
    expect(leaf(a, 0x80000008)!.ecx & 0xf0ff).toBe(0x2002);
  });

  it('one vCPU without an in-kernel LAPIC: no HTT, no APIC, x2APIC or TSC-deadline', () => {
    const [t] = tables({}, 1, false);
    expect(leaf(t, 1)).toEqual(e(1, 0, 0, 0x60fb1, 0x10800, 0xf6d83203, 0x0f8bf9fd));
  });

  it('two threads per core: 0xB reports the SMT level, then the core level', () => {
    const t = tables({ threadsPerCore: 2 }, 4)[3];
    expect(t.filter((x) => x.function === 0xb)).toEqual([e(0xb, 0, 1, 1, 2, 0x100, 3), e(0xb, 1, 1, 2, 4, 0x201, 3), e(0xb, 2, 1, 0, 0, 2, 3)]);
  });
});

describe('guest CPUID: the request (∩ the host, overrides)', () => {
  it("disabling 'avx' hides its dependents and the YMM component of leaf 0xD", () => {
    const [t] = tables({ disable: ['avx'] });
    expect(leaf(t, 1)!.ecx & ((1 << 28) | (1 << 29) | (1 << 12))).toBe(0); // avx, f16c, fma
    expect(leaf(t, 7)!.ebx & (1 << 5)).toBe(0); // avx2
    expect(leaf(t, 7)!.ecx & ((1 << 9) | (1 << 10))).toBe(0); // vaes, vpclmulqdq
    expect(t.filter((x) => x.function === 0xd)).toEqual([e(0xd, 0, 1, 0x203, 0xa88, 0xa88, 0), e(0xd, 1, 1, 5, 0, 0, 0), e(0xd, 9, 1, 8, 0xa80, 0, 0)]);
  });

  it("disabling 'pku' shrinks the XSAVE size to the components left", () => {
    const [t] = tables({ disable: ['pku'] });
    expect(t.filter((x) => x.function === 0xd)).toEqual([e(0xd, 0, 1, 0x7, 0xa88, 0x340, 0), e(0xd, 1, 1, 5, 0, 0, 0), e(0xd, 2, 1, 0x100, 0x240, 0, 0)]);
  });

  it("disabling 'xsave' empties leaf 0xD and hides AVX and PKU", () => {
    const [t] = tables({ disable: ['xsave'] });
    expect(t.filter((x) => x.function === 0xd)).toEqual([e(0xd, 0, 1, 0, 0, 0, 0), e(0xd, 1, 1, 0, 0, 0, 0)]);
    expect(leaf(t, 1)!.ecx & ((1 << 26) | (1 << 28))).toBe(0);
    expect(leaf(t, 7)!.ecx & (1 << 3)).toBe(0);
  });

  it('a mask keeps only its bits of one register', () => {
    const [t] = tables({ masks: [{ leaf: 7, register: 'ebx', keep: 0x1 }] });
    expect(leaf(t, 7)!.ebx).toBe(0x1);
  });

  it('vendor and brand overrides write the strings CPUID returns', () => {
    const [t] = tables({ vendor: 'GenuineIntel', brand: 'kvmts virtual CPU' });
    expect(leaf(t, 0)).toEqual(e(0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69));
    expect(leaf(t, 0x80000000)!.ebx).toBe(0x756e6547);
    const brand = [0x80000002, 0x80000003, 0x80000004].flatMap((l) => (['eax', 'ebx', 'ecx', 'edx'] as const).map((r) => leaf(t, l)![r]));
    expect(Buffer.from(Uint32Array.from(brand).buffer).toString('latin1').replace(/\0+$/, '')).toBe('kvmts virtual CPU');
    // AMD-only normalisation stops when the guest is told it runs on Intel
    expect(leaf(t, 0x80000008)!.ecx).toBe(0x1001);
  });

  it("a required feature the host lacks is a ConfigError naming leaf, register and bit (by name or raw bit)", () => {
    for (const require of [['avx512f'], [{ leaf: 7, subleaf: 0, register: 'ebx', bit: 16 }]] as const) {
      const err = configError(() => tables({ require: [...require] }));
      expect(err.setting).toBe('archOptions.cpuid.require[0]');
      expect(err.message).toBe('archOptions.cpuid.require[0]: leaf 0x7 sub-leaf 0 EBX bit 16 (avx512f) is not offered by this host (KVM_GET_SUPPORTED_CPUID does not set it)');
    }
  });

  it('a required feature the request itself hides, or one that needs the in-kernel LAPIC, says so', () => {
    expect(configError(() => tables({ require: ['sse', 'avx2'], disable: ['avx'] })).message).toBe(
      'archOptions.cpuid.require[1]: leaf 0x7 sub-leaf 0 EBX bit 5 (avx2) is hidden by this request (disable, masks, or a feature it depends on)',
    );
    expect(configError(() => tables({ require: ['tsc_deadline_timer'] }, 1, false)).message).toMatch(/ECX bit 24 \(tsc_deadline_timer\) is offered only with an in-kernel LAPIC/);
    expect(() => tables({ require: ['tsc_deadline_timer', 'hypervisor', 'avx2', 'pku'] })).not.toThrow();
  });

  it('checks the request: unknown options and features, bad vendor, topology', () => {
    expect(configError(() => x86MachineOptions({ cpuid: { vendr: 'x' } })).setting).toBe('archOptions.cpuid.vendr');
    expect(configError(() => checkCpuidRequest({ disable: ['avx9000'] })).message).toMatch(/unknown CPUID feature 'avx9000'/);
    expect(configError(() => checkCpuidRequest({ vendor: 'Intel' })).setting).toBe('archOptions.cpuid.vendor');
    expect(configError(() => checkCpuidRequest({ threadsPerCore: 3 })).setting).toBe('archOptions.cpuid.threadsPerCore');
    expect(configError(() => tables({ threadsPerCore: 2 }, 3)).message).toMatch(/2 threads per core does not divide 3 vCPUs/);
    expect(configError(() => checkCpuidRequest({ masks: [{ leaf: 7, register: 'esp', keep: 1 }] })).setting).toBe('archOptions.cpuid.masks[0].register');
  });
});
