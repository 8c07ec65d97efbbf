/**
 * X86StateSync's two fast paths on a fake vCPU that behaves as KVM does (support/fake-vcpu.ts):
 * a full pull or push as one batch (one crossing, same order, same errors), and KVM_CAP_SYNC_REGS
 * (registers read from kvm_run after an exit and staged into it before a run, with the rules
 * that keep the state exact).
 */
import { KvmError } from '@kvmts/core';
import { MSR, X86Sregs2Layout, X86StateSync, type X86StateCaps, type X86SyncRegsGroup } from '@kvmts/arch-x86';
import { FULL_CAPS, FakeVcpu, SYNC_CAPS } from './support/fake-vcpu';

const MSR_LIST = [MSR.TSC, MSR.SYSENTER_CS, MSR.PAT, MSR.LSTAR, MSR.TSC_DEADLINE];
const RAX = 0;
const RIP = 128;
const FULL_PULL = ['KVM_GET_MP_STATE', 'KVM_GET_REGS', 'KVM_GET_SREGS2', 'KVM_GET_XSAVE2', 'KVM_GET_XCRS', 'KVM_GET_DEBUGREGS', 'KVM_GET_LAPIC', 'KVM_GET_CPUID2', 'KVM_GET_MSRS', 'KVM_GET_VCPU_EVENTS'];

function rig(options: { caps?: X86StateCaps; lapic?: boolean; batch?: boolean; syncRegs?: X86SyncRegsGroup[] } = {}) {
  const caps = options.caps ?? SYNC_CAPS;
  const kvm = new FakeVcpu(caps);
  const sync = new X86StateSync(kvm.ioctl, caps, 'vCPU 0', { ...(options.batch === false ? {} : { batch: kvm.batchPort }), run: kvm.run });
  sync.configure({ lapic: options.lapic ?? true, msrList: MSR_LIST });
  const groups = sync.useSyncRegs(options.syncRegs ?? ['regs']);
  return { kvm, sync, tc: sync.tc, groups };
}

/** A run of the fake vCPU followed by what BaseKvmCPU does after it (invalidate on the next read). */
function run(kvm: FakeVcpu, sync: X86StateSync, options?: Parameters<FakeVcpu['kvmRun']>[0]): void {
  kvm.kvmRun(options);
  sync.invalidate();
}

describe('batched full sync', () => {
  it('a full pull is one crossing, in the documented order', () => {
    const { kvm, sync } = rig();
    sync.pullAll();
    expect(kvm.crossings).toBe(1);
    expect(kvm.batches).toEqual([FULL_PULL]);
  });

  it('a full push is one crossing, in the documented order, and KVM holds what the context held', () => {
    const { kvm, sync, tc } = rig({ syncRegs: [] });
    sync.pullAll();
    sync.markAllDirty();
    tc.regs.rax = 0xfeedn;
    kvm.crossings = 0;
    sync.pushDirty();
    expect(kvm.crossings).toBe(1);
    // (The fake's empty CPUID table is not pushed back.)
    expect(kvm.batches[1]).toEqual(['KVM_SET_MP_STATE', 'KVM_SET_REGS', 'KVM_SET_SREGS2', 'KVM_SET_XSAVE', 'KVM_SET_XCRS', 'KVM_SET_DEBUGREGS', 'KVM_SET_LAPIC', 'KVM_SET_MSRS', 'KVM_SET_VCPU_EVENTS']);
    expect(kvm.reg(RAX)).toBe(0xfeedn);
  });

  it('without a batch port every ioctl is its own crossing, with the same calls', () => {
    const { kvm, sync } = rig({ batch: false });
    sync.pullAll();
    expect(kvm.crossings).toBe(10);
    expect(kvm.calls).toEqual(FULL_PULL);
  });

  it('an ioctl failing inside a batch is a KvmError naming it; the groups before it are pushed', () => {
    const { kvm, sync } = rig();
    sync.pullAll();
    sync.markAllDirty();
    kvm.failing.set('KVM_SET_XCRS', 'EINVAL');
    kvm.calls.length = 0;
    let caught: unknown;
    try {
      sync.pushDirty();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvmError);
    expect(caught).toMatchObject({ op: 'KVM_SET_XCRS', code: 'EINVAL' });
    expect(kvm.calls).toEqual(['KVM_SET_MP_STATE', 'KVM_SET_REGS', 'KVM_SET_SREGS2', 'KVM_SET_XSAVE', 'KVM_SET_XCRS']);
  });

  it('an MSR KVM refuses in a batched push is the same KvmError naming it, and nothing after it runs', () => {
    const { kvm, sync, tc } = rig();
    sync.pullAll();
    sync.markAllDirty();
    void tc.msrs; // pushed from objects
    kvm.refuse.add(MSR.LSTAR);
    kvm.calls.length = 0;
    expect(() => sync.pushDirty()).toThrow(/KVM_SET_MSRS failed: EPARTIAL.*refused MSR 0xc0000082 \(LSTAR\)/);
    expect(kvm.calls.at(-1)).toBe('KVM_SET_MSRS');
  });

  it('an MSR KVM refuses in a batched pull names it (pulled again alone)', () => {
    const { kvm, sync } = rig();
    kvm.refuse.add(MSR.PAT);
    expect(() => sync.pullAll()).toThrow(/KVM_GET_MSRS failed: EPARTIAL.*refused MSR 0x277 \(PAT\)/);
  });

  it('a CPUID table past 256 entries stops the batch with E2BIG; CPUID is pulled again alone, growing its buffer', () => {
    const { kvm, sync, tc } = rig();
    const table = Array.from({ length: 300 }, (_, i) => ({ function: i, index: 0, flags: 0, eax: i, ebx: 0, ecx: 0, edx: 0 }));
    sync.edit('cpuid', false, (d) => (d.cpuid = table));
    run(kvm, sync);
    kvm.calls.length = 0;
    sync.pullAll();
    // In the batch (E2BIG), alone at 256 entries (E2BIG), alone at 512.
    expect(kvm.calls.filter((c) => c === 'KVM_GET_CPUID2')).toHaveLength(3);
    expect(kvm.calls.at(-1)).toBe('KVM_GET_VCPU_EVENTS');
    expect(tc.cpuid).toEqual(table);
  });
});

describe('KVM_CAP_SYNC_REGS: reads', () => {
  it('after a run, reading RIP costs no ioctl and equals what KVM holds', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync, { guest: (v) => v.setReg(RIP, 0x8123n) });
    kvm.crossings = 0;
    expect(tc.regs.rip).toBe(0x8123n);
    expect(kvm.crossings).toBe(0);
    run(kvm, sync, { guest: (v) => v.setReg(RIP, 0x8200n) });
    expect(tc.regs.rip).toBe(0x8200n);
    expect(kvm.crossings).toBe(0);
  });

  it('before the first run KVM has written nothing there: the read is KVM_GET_REGS', () => {
    const { kvm, sync, tc } = rig();
    sync.invalidate();
    void tc.regs.rip;
    expect(kvm.calls).toEqual(['KVM_GET_REGS']);
  });

  it('an invalidation without a run after an ioctl push reads KVM again (the copy from the exit is stale)', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.markDirty('regs');
    tc.regs.rax = 7n;
    sync.pushDirty(); // not staging: KVM_SET_REGS
    expect(kvm.calls).toEqual(['KVM_SET_REGS']);
    sync.invalidate();
    expect(tc.regs.rax).toBe(7n);
    expect(kvm.calls).toEqual(['KVM_SET_REGS', 'KVM_GET_REGS']);
  });

  it('events and (where KVM has no SREGS2) sregs come from kvm_run too, when asked for', () => {
    const caps = { ...SYNC_CAPS, sregs2: false };
    const { kvm, sync, tc, groups } = rig({ caps, syncRegs: ['sregs', 'events'] });
    expect(groups).toEqual(['regs', 'sregs', 'events']);
    run(kvm, sync);
    void tc.regs;
    void tc.sregs;
    void tc.events;
    expect(kvm.crossings).toBe(0);
    expect(tc.events).toEqual(rig({ caps, syncRegs: [] }).tc.events);
  });

  it('with SREGS2, sregs stay on the ioctl (kvm_run has no PDPTRs); without the cap nothing is carried', () => {
    expect(rig({ syncRegs: ['sregs', 'events'] }).groups).toEqual(['regs', 'events']);
    expect(rig({ caps: FULL_CAPS, syncRegs: ['regs'] }).groups).toEqual([]);
    expect(rig({ syncRegs: [] }).groups).toEqual([]);
  });

  it('with an in-kernel LAPIC a full pull reads REGS by ioctl after MP_STATE (which may take an INIT/SIPI)', () => {
    const { kvm, sync } = rig();
    run(kvm, sync);
    sync.pullAll();
    expect(kvm.batches.at(-1)).toEqual(FULL_PULL);
  });

  it('without one, a full pull takes REGS from kvm_run: nine ioctls', () => {
    const { kvm, sync } = rig({ lapic: false });
    run(kvm, sync);
    sync.pullAll();
    expect(kvm.batches.at(-1)).toEqual(FULL_PULL.filter((c) => c !== 'KVM_GET_REGS' && c !== 'KVM_GET_LAPIC'));
  });
});

describe('KVM_CAP_SYNC_REGS: writes', () => {
  it('while staging, a register write is no ioctl: KVM applies it at the next entry', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    tc.regs.rip = 0x9000n;
    sync.pushDirty();
    expect(kvm.crossings).toBe(0);
    kvm.kvmRun();
    expect(kvm.calls).toEqual(['sync:REGS']);
    expect(kvm.reg(RIP)).toBe(0x9000n);
  });

  it('the run that took the write did not copy regs out: the next read is one KVM_GET_REGS, the one after free again', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    tc.regs.rip = 0x9000n;
    sync.pushDirty();
    run(kvm, sync, { guest: (v) => v.setReg(RIP, 0x9002n) });
    expect(tc.regs.rip).toBe(0x9002n);
    expect(kvm.calls).toEqual(['sync:REGS', 'KVM_GET_REGS']);
    run(kvm, sync, { guest: (v) => v.setReg(RIP, 0x9004n) });
    expect(tc.regs.rip).toBe(0x9004n);
    expect(kvm.calls).toEqual(['sync:REGS', 'KVM_GET_REGS']);
  });

  it('a staged regs write and an sregs write by ioctl in one push: KVM_SET_SREGS2 only, both take effect', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    sync.markDirty('sregs');
    tc.regs.rax = 0xabcn;
    tc.sregs.cr0 |= 0x8n;
    const cr0 = tc.sregs.cr0;
    kvm.calls.length = 0;
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_SREGS2']);
    kvm.kvmRun();
    expect(kvm.reg(RAX)).toBe(0xabcn);
    expect(new DataView(kvm.bytes.get('SREGS2')!.buffer).getBigUint64(X86Sregs2Layout.fields.cr0.offset, true)).toBe(cr0);
  });

  it('regs go by ioctl, before events, when events go by ioctl', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    sync.markDirty('events');
    tc.regs.rax = 1n;
    kvm.calls.length = 0;
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_REGS', 'KVM_SET_VCPU_EVENTS']);
    expect(kvm.batches.at(-1)).toEqual(['KVM_SET_REGS', 'KVM_SET_VCPU_EVENTS']);
  });

  it('not staging (outside a run loop), a push is an ioctl: KVM holds it on return', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.markDirty('regs');
    tc.regs.rax = 5n;
    sync.pushDirty();
    expect(kvm.calls).toEqual(['KVM_SET_REGS']);
    expect(kvm.reg(RAX)).toBe(5n);
  });

  it('a run that returns without taking the write (waiting for SIPI) keeps it: not overwritten, still read back, taken later', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    tc.regs.rax = 0x55n;
    sync.pushDirty();
    run(kvm, sync, { uninitialized: true });
    expect(tc.regs.rax).toBe(0x55n);
    expect(kvm.reg(RAX)).not.toBe(0x55n);
    kvm.kvmRun();
    expect(kvm.reg(RAX)).toBe(0x55n);
  });

  it('commitStaged pushes a write KVM has not taken by ioctl, and withdraws it from kvm_run', () => {
    const { kvm, sync, tc } = rig();
    run(kvm, sync);
    sync.staging = true;
    sync.markDirty('regs');
    tc.regs.rax = 0x66n;
    sync.pushDirty();
    sync.staging = false;
    sync.commitStaged();
    expect(kvm.calls).toEqual(['KVM_SET_REGS']);
    expect(kvm.reg(RAX)).toBe(0x66n);
    kvm.setReg(RAX, 0x67n); // KVM changes it; the staged copy must not come back
    kvm.kvmRun();
    expect(kvm.reg(RAX)).toBe(0x67n);
    expect(kvm.calls).toEqual(['KVM_SET_REGS']);
  });

  it('a full push while staging sends regs by kvm_run only when events may go that way too', () => {
    const { kvm, sync } = rig({ syncRegs: ['regs', 'events'] });
    run(kvm, sync);
    sync.pullAll();
    sync.markAllDirty();
    sync.staging = true;
    sync.pushDirty();
    // (The fake's empty CPUID table is not pushed back.)
    expect(kvm.batches.at(-1)).toEqual(['KVM_SET_MP_STATE', 'KVM_SET_SREGS2', 'KVM_SET_XSAVE', 'KVM_SET_XCRS', 'KVM_SET_DEBUGREGS', 'KVM_SET_LAPIC', 'KVM_SET_MSRS']);
    kvm.calls.length = 0;
    kvm.kvmRun();
    expect(kvm.calls).toEqual(['sync:REGS', 'sync:VCPU_EVENTS']);
  });
});
