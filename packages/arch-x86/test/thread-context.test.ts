/**
 * X86ThreadContext's plain-data form: toJSON carries every state group, fromData takes it back
 * (also after a structured clone, as between threads), checks the fixed-shape groups with
 * assertSameShape and the variable-size ones explicitly, naming the field that is wrong.
 */
import { ConfigError } from '@kvmts/core';
import { X86StateSync, X86ThreadContext, X86_STATE_GROUPS, x86ArchPlugin } from '@kvmts/arch-x86';
import { FULL_CAPS, FakeVcpu } from './support/fake-vcpu';

/** A context holding every group as a vCPU with an in-kernel LAPIC reports it. */
function full(): X86ThreadContext {
  const kvm = new FakeVcpu(FULL_CAPS);
  const sync = new X86StateSync(kvm.ioctl, FULL_CAPS);
  sync.configure({ lapic: true, msrList: [0x10, 0x277] });
  sync.pullAll();
  sync.tc.cpuid.push({ function: 1, index: 0, flags: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 });
  sync.tc.xcrs.push({ index: 0, value: 7n });
  return sync.tc;
}

function settingOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.setting;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('X86ThreadContext plain data', () => {
  it('toJSON carries every group, and fromData(structuredClone(...)) gives them back bit for bit', () => {
    const data = full().toJSON();
    expect(Object.keys(data).sort()).toEqual(['arch', ...X86_STATE_GROUPS].sort());
    expect(data.lapic).toHaveLength(1024);
    expect(data.msrs.map((m) => m.index)).toEqual([0x10, 0x277]);
    const back = X86ThreadContext.fromData(structuredClone(data));
    expect(back.toJSON()).toEqual(data);
    expect(Buffer.from(back.xsave).equals(Buffer.from(data.xsave))).toBe(true);
    expect(x86ArchPlugin.threadContextFromData(data).toJSON()).toEqual(data);
  });

  it('a copy is its own: changing it leaves the original alone', () => {
    const a = full();
    const b = new X86ThreadContext();
    b.copyFrom(a);
    b.xsave[600] ^= 0xff;
    b.msrs[0].value += 1n;
    expect(b.xsave[600]).not.toBe(a.xsave[600]);
    expect(b.msrs[0].value).not.toBe(a.msrs[0].value);
  });

  it('names the field that is wrong: fixed shapes, sizes, lists, duplicates, unknown fields', () => {
    const data = full().toJSON();
    const bad = (patch: Record<string, unknown>) => settingOf(() => X86ThreadContext.fromData({ ...structuredClone(data), ...patch }));
    expect(bad({ arch: 'arm64' })).toBe('threadContext.arch');
    expect(bad({ extra: 1 })).toBe('threadContext.extra');
    expect(bad({ regs: { ...data.regs, rip: 5 } })).toBe('threadContext.regs.rip');
    expect(bad({ sregs: { ...data.sregs, pdptrs: [0n] } })).toBe('threadContext.sregs.pdptrs');
    expect(bad({ xsave: new Uint8Array(100) })).toBe('threadContext.xsave');
    expect(bad({ xsave: Array.from(data.xsave) })).toBe('threadContext.xsave');
    expect(bad({ lapic: new Uint8Array(512) })).toBe('threadContext.lapic');
    expect(bad({ msrs: [{ index: 0x10, value: 1 }] })).toBe('threadContext.msrs[0].value');
    expect(bad({ msrs: [{ index: 0x10, value: 1n }, { index: 0x10, value: 2n }] })).toBe('threadContext.msrs[1].index');
    expect(bad({ msrs: [{ index: 0x10, value: 1n, name: 'TSC' }] })).toBe('threadContext.msrs[0].name');
    expect(bad({ xcrs: Array.from({ length: 17 }, () => ({ index: 0, value: 0n })) })).toBe('threadContext.xcrs');
    expect(bad({ cpuid: [{ ...data.cpuid[0], eax: -1 }] })).toBe('threadContext.cpuid[0].eax');
    expect(settingOf(() => X86ThreadContext.fromData({ ...structuredClone(data), events: undefined }))).toBe('threadContext.events');
  });
});
