/**
 * Guest CPUID on real KVM: what each vCPU's guest sees with the CPUID instruction is the table
 * kvmts configured for it (KVM_GET_SUPPORTED_CPUID ∩ the request, normalised per vCPU), except
 * in the bits KVM rewrites at run time (X86_CPUID_DYNAMIC_BITS); a request the host cannot meet
 * fails before anything runs, naming the leaf, register and bit.
 */
import { ConfigError } from '@kvmts/core';
import { X86_CPUID_DYNAMIC_BITS, getSupportedCpuid, type CpuidEntry } from '@kvmts/arch-x86';
import type { Rig } from './support/harness';
import { stateRig } from './support/state-rig';

const LIST = 0x200000;
const ENTRY = 24;
const REGS = ['eax', 'ebx', 'ecx', 'edx'] as const;

function dynamicMask(e: CpuidEntry, r: (typeof REGS)[number]): number {
  return X86_CPUID_DYNAMIC_BITS.filter((d) => d.leaf === e.function && d.subleaf === e.index && d.register === r).reduce((m, d) => m | d.mask, 0);
}

describeKvm('guest CPUID on real KVM', () => {
  let rig: Rig | undefined;
  afterEach(() => {
    rig?.close();
    rig = undefined;
  });

  it('each vCPU sees its configured table (APIC ids differ per vCPU), with a request applied', () => {
    const request = { disable: ['avx' as const], brand: 'kvmts test CPU' };
    const probe = stateRig({ entry: 'cpuid_query', cpl: 3, cpus: 2, archOptions: { irqchip: 'kernel', cpuid: request } });
    const tables = probe.cpus.map((c) => c.getThreadContext().cpuid.map((e) => ({ ...e })));
    probe.close();
    const queries = new Uint8Array(tables[0].length * ENTRY);
    const q = new DataView(queries.buffer);
    tables[0].forEach((e, i) => {
      q.setUint32(i * ENTRY, e.function, true);
      q.setUint32(i * ENTRY + 4, e.index, true);
    });
    const at = (id: number) => LIST + id * 0x10000;
    rig = stateRig({
      entry: 'cpuid_query',
      cpl: 3,
      cpus: 2,
      registers: [0, 1].map((id) => ({ rsi: at(id), rcx: tables[0].length })),
      data: [0, 1].map((id) => ({ gpa: at(id), bytes: queries })),
      archOptions: { irqchip: 'kernel', cpuid: request },
    });
    const wrong: string[] = [];
    rig.cpus.forEach((cpu, id) => {
      expect(cpu.runLoop()).toEqual({ reason: 'poweroff', status: 0 });
      const seen = new DataView(rig!.vm.memory().read(at(id), queries.length).buffer);
      tables[id].forEach((e, i) => {
        REGS.forEach((r, k) => {
          const got = seen.getUint32(i * ENTRY + 8 + 4 * k, true);
          const keep = ~dynamicMask(e, r) >>> 0;
          if (((got ^ e[r]) & keep) >>> 0 !== 0) wrong.push(`vCPU ${id} leaf 0x${e.function.toString(16)}.${e.index} ${r}: saw 0x${got.toString(16)}, configured 0x${e[r].toString(16)}`);
        });
      });
    });
    expect(wrong).toEqual([]);
    expect(tables.map((t) => t.find((e) => e.function === 1)!.ebx >>> 24)).toEqual([0, 1]);
    expect(tables[0].find((e) => e.function === 1)!.ecx & (1 << 28)).toBe(0); // avx hidden
  });

  it('a requirement the host cannot meet is a ConfigError naming the leaf, register and bit', () => {
    const probe = stateRig({ entry: 'cpuid_query', cpl: 3 });
    const supported = getSupportedCpuid(probe.kvm);
    probe.close();
    // the first bit of leaf 7.0 EBX this host's KVM does not offer
    const ebx = supported.find((e) => e.function === 7 && e.index === 0)!.ebx;
    const bit = Array.from({ length: 32 }, (_, i) => i).find((i) => ((ebx >>> i) & 1) === 0)!;
    let err: unknown;
    try {
      rig = stateRig({ entry: 'cpuid_query', cpl: 3, archOptions: { cpuid: { require: [{ leaf: 7, subleaf: 0, register: 'ebx', bit }] } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).setting).toBe('archOptions.cpuid.require[0]');
    expect((err as ConfigError).message).toContain(`leaf 0x7 sub-leaf 0 EBX bit ${bit}`);
    expect((err as ConfigError).message).toContain('is not offered by this host');
  });
});
