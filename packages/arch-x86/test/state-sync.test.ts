/**
 * The lazy per-group state sync (X86StateSync) on a fake vCPU that counts ioctls: what a read,
 * a full sync, a modification and a takeover cost, in which order groups travel, the TSC rule,
 * the fallbacks for KVMs without SREGS2 or XSAVE, and the documented set-up sequence.
 */
import { ConfigError, KvmError } from '@kvmts/core';
import { MSR, X86StateSync, X86ThreadContext, X86_BOOT_FPU, X86_BOOT_MSRS, applySetupSequence, createX86Regs, readLapicReg, LAPIC_REG, type X86StateCaps } from '@kvmts/arch-x86';
import { FULL_CAPS, FakeVcpu } from './support/fake-vcpu';

const MSR_LIST = [MSR.TSC, MSR.SYSENTER_CS, MSR.PAT, MSR.MTRR_DEF_TYPE, MSR.LSTAR, MSR.TSC_DEADLINE];

function rig(caps: X86StateCaps = FULL_CAPS, lapic = true) {
  const kvm = new FakeVcpu(caps);
  const sync = new X86StateSync(kvm.ioctl, caps, 'vCPU 0');
  sync.configure({ lapic, msrList: MSR_LIST });
  return { kvm, sync, tc: sync.tc };
}

/** A context with every group filled, as a takeover would bring it. */
function donor(): X86ThreadContext {
  const { sync, tc } = rig();
  sync.pullAll();
  tc.cpuid.push({ function: 0, index: 0, flags: 0, eax: 0xd, ebx: 1, ecx: 2, edx: 3 });
  return X86ThreadContext.fromData(tc.toJSON());
}

describe('X86StateSync: lazy pulls', () => {
  it('reading RIP after a run costs one KVM_GET_REGS, and reading it again nothing', () => {
    const { kvm, sync, tc } = rig();
    sync.invalidate();
    void tc.regs.rip;
    void tc.regs.rsp;
    expect(kvm.calls).toEqual(['KVM_GET_REGS']);
  });

  it('a full sync pulls every group once, MP_STATE first and VCPU_EVENTS last', () => {
    const { kvm, sync, tc } = rig();
    void tc.regs;
    sync.pullAll();
    expect(kvm.calls).toEqual(['KVM_GET_REGS', 'KVM_GET_MP_STATE', 'KVM_GET_REGS', 'KVM_GET_SREGS2', 'KVM_GET_XSAVE2', 'KVM_GET_XCRS', 'KVM_GET_DEBUGREGS', 'KVM_GET_LAPIC', 'KVM_GET_CPUID2', 'KVM_GET_MSRS', 'KVM_GET_VCPU_EVENTS']);
  });

  it('without an in-kernel LAPIC, pulling MP_STATE keeps the groups already pulled', () => {
    const { kvm, sync, tc } = rig(FULL_CAPS, false);
    void tc.regs;
    sync.pullAll();
    expect(kvm.calls.filter((c) => c === 'KVM_GET_REGS')).toHaveLength(1);
    expect(kvm.calls).not.toContain('KVM_GET_LAPIC');
    expect(tc.lapic).toHaveLength(0);
  });

  it('counts the CPUID entries KVM_GET_CPUID2 wrote (it leaves nent as passed), also past 256 entries', () => {
    for (const n of [3, 300]) {
      const { kvm, sync, tc } = rig();
      const table = Array.from({ length: n }, (_, i) => ({ function: i, index: 0, flags: 0, eax: i, ebx: 0, ecx: 0, edx: i === 0 ? 0 : 0xffffffff }));
      sync.edit('cpuid', false, (d) => (d.cpuid = table));
      sync.invalidate();
      expect(tc.cpuid).toEqual(table);
      expect(kvm.calls.filter((c) => c === 'KVM_GET_CPUID2')).toHaveLength(n > 256 ? 2 : 1);
    }
  });

  it('a context read after invalidation shows what KVM holds now', () => {
    const { kvm, sync, tc } = rig();
    expect(tc.regs.rax).toBe(new DataView(kvm.bytes.get('REGS')!.buffer).getBigUint64(0, true));
    new DataView(kvm.bytes.get('REGS')!.buffer).setBigUint64(0, 42n, true);
    expect(tc.regs.rax).not.toBe(42n);
    sync.invalidate();
    expect(tc.regs.rax).toBe(42n);
  });
});

describe('X86StateSync: pushes', () => {
  it('markDirty pushes that group only', () => {
    const { kvm, sync, tc } = rig();
    sync.pullAll();
    kvm.calls.length = 0;
    sync.markDirty('regs');
    tc.regs.rip = 0x1234n;
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_REGS']);
    expect(new DataView(kvm.bytes.get('REGS')!.buffer).getBigUint64(128, true)).toBe(0x1234n);
  });

  it('markAllDirty pushes the groups held — including those read after the mark — in push order', () => {
    const { kvm, sync, tc } = rig();
    sync.invalidate();
    void tc.sregs;
    sync.markAllDirty();
    void tc.regs;
    kvm.calls.length = 0;
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_REGS', 'KVM_SET_SREGS2']);
    sync.pushDirty();
    expect(kvm.calls).toHaveLength(2);
  });

  it('a takeover pushes every group in restore order; SET_MSRS writes TSC first and TSC_DEADLINE last', () => {
    const from = donor();
    const { kvm, sync } = rig();
    sync.load(from);
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_CPUID2', 'KVM_SET_MP_STATE', 'KVM_SET_REGS', 'KVM_SET_SREGS2', 'KVM_SET_XSAVE', 'KVM_SET_DEBUGREGS', 'KVM_SET_LAPIC', 'KVM_SET_MSRS', 'KVM_SET_VCPU_EVENTS']);
    const written = kvm.msrWrites[0].map(([i]) => i);
    expect(written[0]).toBe(MSR.TSC);
    expect(written[written.length - 1]).toBe(MSR.TSC_DEADLINE);
    expect(new Set(written)).toEqual(new Set(MSR_LIST));
    expect(kvm.bytes.get('XSAVE')).toEqual(from.xsave);
  });

  it('TSC pulled from this vCPU is not written back unless the context changed it (no rewind on resume)', () => {
    const { kvm, sync, tc } = rig();
    sync.markDirty('msrs');
    tc.msrs.find((m) => m.index === MSR.LSTAR)!.value = 0xffffffff81000000n;
    sync.pushDirty();
    expect(kvm.msrWrites[0].map(([i]) => i)).not.toContain(MSR.TSC);
    sync.markDirty('msrs');
    tc.msrs.find((m) => m.index === MSR.TSC)!.value += 1000n;
    sync.pushDirty();
    expect(kvm.msrWrites[1][0]).toEqual([MSR.TSC, BigInt(MSR.TSC) * 3n + 1000n]);
    sync.markDirty('msrs');
    sync.pushDirty();
    expect(kvm.msrWrites[2].map(([i]) => i)).not.toContain(MSR.TSC);
  });

  it('an MSR KVM refuses is a KvmError naming it', () => {
    const { kvm, sync, tc } = rig();
    void tc.msrs;
    kvm.refuse.add(MSR.PAT);
    sync.markDirty('msrs');
    expect(() => sync.pushDirty()).toThrow(KvmError);
    sync.markDirty('msrs');
    expect(() => sync.pushDirty()).toThrow(/KVM_SET_MSRS failed: EPARTIAL .*refused MSR 0x277 \(PAT\)/);
  });
});

describe('X86StateSync: KVMs without SREGS2 or XSAVE', () => {
  it('uses KVM_GET/SET_SREGS, leaving the pending-interrupt bitmap to VCPU_EVENTS', () => {
    const caps = { ...FULL_CAPS, sregs2: false };
    const { kvm, sync, tc } = rig(caps);
    const cr3 = new DataView(kvm.bytes.get('SREGS')!.buffer).getBigUint64(240, true);
    expect(tc.sregs.cr3).toBe(cr3);
    expect(tc.sregs.pdptrs).toEqual([0n, 0n, 0n, 0n]);
    sync.markDirty('sregs');
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_GET_SREGS', 'KVM_SET_SREGS']);
    expect(Array.from(kvm.bytes.get('SREGS')!.subarray(280, 312)).every((b) => b === 0)).toBe(true);
  });

  it('without XSAVE, KVM_GET_FPU becomes an image with XSTATE_BV = x87|SSE; AVX state cannot go back', () => {
    const caps = { ...FULL_CAPS, xsaveBytes: 0, xsave2: false };
    const { kvm, sync, tc } = rig(caps);
    const image = tc.xsave;
    expect(image).toHaveLength(4096);
    expect(new DataView(image.buffer).getBigUint64(512, true)).toBe(3n);
    expect(new DataView(image.buffer).getUint16(0, true)).toBe(new DataView(kvm.bytes.get('FPU')!.buffer).getUint16(128, true));
    sync.markDirty('xsave');
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_GET_FPU', 'KVM_SET_FPU']);
    expect(kvm.bytes.get('FPU')!.subarray(0, 412)).toEqual(new Uint8Array(kvm.bytes.get('FPU')!.buffer, 0, 412));
    sync.load(donor());
    expect(() => sync.pushDirty()).toThrow(ConfigError);
  });

  it('an XSAVE image of another size is zero-padded; data past what this KVM holds is a ConfigError', () => {
    const big = { ...FULL_CAPS, xsaveBytes: 8192 };
    const from = donor();
    const { kvm, sync } = rig(big);
    sync.load(from);
    sync.pushDirty();
    expect(kvm.bytes.get('XSAVE')!.subarray(0, 4096)).toEqual(from.xsave);
    const large = rig(big);
    large.sync.pullAll();
    large.tc.xsave[6000] = 1;
    const { sync: small } = rig();
    small.load(large.tc);
    expect(() => small.pushDirty()).toThrow(/is 8192 bytes with data past 4096/);
  });
});

describe('the per-vCPU set-up sequence', () => {
  it('sets CPUID, MSRs, MP state, registers, FPU, special registers and LAPIC, in that order', () => {
    const { kvm, sync, tc } = rig();
    applySetupSequence(sync, {
      cpuid: [{ function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0, ecx: 0, edx: 0 }],
      inKernelLapic: true,
      msrList: MSR_LIST,
      msrs: X86_BOOT_MSRS,
      mpState: 0,
      regs: { ...createX86Regs(), rip: 0x8000n },
      fpu: X86_BOOT_FPU,
      sregs: { cr3: 0x9000n, cs: { selector: 0x10 } },
    });
    expect(kvm.calls).toEqual([
      'KVM_SET_CPUID2',
      'KVM_GET_MSRS', 'KVM_SET_MSRS',
      'KVM_SET_MP_STATE',
      'KVM_GET_REGS', 'KVM_SET_REGS',
      'KVM_GET_XSAVE2', 'KVM_SET_XSAVE',
      'KVM_GET_SREGS2', 'KVM_SET_SREGS2',
      'KVM_GET_LAPIC', 'KVM_SET_LAPIC',
    ]);
    // boot values of the MSRs this vCPU carries; TSC left alone (KVM synchronised it at creation)
    expect(kvm.msrWrites[0].filter(([i]) => i !== MSR.PAT)).toEqual([[MSR.SYSENTER_CS, 0n], [MSR.MTRR_DEF_TYPE, 0x806n], [MSR.LSTAR, 0n], [MSR.TSC_DEADLINE, BigInt(MSR.TSC_DEADLINE) * 3n]]);
    const lapic = kvm.bytes.get('LAPIC')!;
    expect([readLapicReg(lapic, LAPIC_REG.LVT_LINT0) & 0x700, readLapicReg(lapic, LAPIC_REG.LVT_LINT1) & 0x700]).toEqual([0x700, 0x400]);
    const x = new DataView(kvm.bytes.get('XSAVE')!.buffer);
    expect([x.getUint16(0, true), x.getUint32(24, true), x.getBigUint64(512, true) & 3n]).toEqual([0x37f, 0x1f80, 3n]);
    expect(tc.sregs.cs.selector).toBe(0x10);
    kvm.calls.length = 0;
    void tc.regs;
    expect(kvm.calls).toEqual([]);
  });
});
