/**
 * KVM_CAP_SYNC_REGS bookkeeping (state/sync-regs.ts) as pure logic: which pushes may be staged
 * in kvm_run, the bit conversions, and the area's rules on a plain kvm_run buffer.
 */
import { KvmRunLayout } from '@kvmts/core';
import { GROUP_BIT, MUST_FOLLOW, SYNC_REGS_AREA, SyncRegsArea, X86_DEFAULT_SYNC_REGS, groupsOfKvmBits, kvmBitsOfGroups, routePush, type X86StateGroup } from '@kvmts/arch-x86';

const bits = (...groups: X86StateGroup[]): number => groups.reduce((m, g) => m | GROUP_BIT[g], 0);
const STAGEABLE = bits('regs', 'sregs', 'events');

describe('sync-regs tables', () => {
  it('place kvm_sync_regs at kvm_run + 304: regs (144 bytes), sregs (312), events (64)', () => {
    expect(SYNC_REGS_AREA).toEqual({
      regs: { kvmBit: 1, offset: 304, size: 144 },
      sregs: { kvmBit: 2, offset: 448, size: 312 },
      events: { kvmBit: 4, offset: 760, size: 64 },
    });
    expect(X86_DEFAULT_SYNC_REGS).toEqual(['regs']);
  });

  it('MUST_FOLLOW: regs only before events; sregs before everything after it in the push order', () => {
    expect(MUST_FOLLOW.regs).toBe(bits('events'));
    expect(MUST_FOLLOW.sregs).toBe(bits('xsave', 'xcrs', 'debugRegs', 'lapic', 'msrs', 'events'));
    expect(MUST_FOLLOW.events).toBe(0);
  });

  it('converts between KVM_SYNC_X86_* bits and group bits', () => {
    expect(groupsOfKvmBits(7)).toBe(STAGEABLE);
    expect(groupsOfKvmBits(5)).toBe(bits('regs', 'events'));
    expect(kvmBitsOfGroups(bits('sregs', 'msrs'))).toBe(2);
    expect(kvmBitsOfGroups(bits('cpuid', 'lapic'))).toBe(0);
  });
});

describe('routePush', () => {
  it('stages regs alone, and regs next to an sregs pushed by ioctl', () => {
    expect(routePush(bits('regs'), STAGEABLE)).toEqual({ staged: bits('regs'), ioctl: 0 });
    expect(routePush(bits('regs', 'sregs'), bits('regs'))).toEqual({ staged: bits('regs'), ioctl: bits('sregs') });
  });

  it('sends regs by ioctl when events go by ioctl (KVM_SET_REGS drops a pending exception)', () => {
    expect(routePush(bits('regs', 'events'), bits('regs'))).toEqual({ staged: 0, ioctl: bits('regs', 'events') });
    expect(routePush(bits('regs', 'events'), bits('regs', 'events'))).toEqual({ staged: bits('regs', 'events'), ioctl: 0 });
  });

  it('a full push with everything stageable stages regs and events (KVM applies them in that order, last); sregs must precede the LAPIC and MSRs', () => {
    const all = (1 << 10) - 1;
    expect(routePush(all, STAGEABLE)).toEqual({ staged: bits('regs', 'events'), ioctl: all & ~bits('regs', 'events') });
  });

  it('stages sregs only when nothing after it goes by ioctl', () => {
    expect(routePush(bits('sregs', 'regs'), STAGEABLE)).toEqual({ staged: bits('sregs', 'regs'), ioctl: 0 });
    expect(routePush(bits('sregs', 'lapic'), STAGEABLE)).toEqual({ staged: 0, ioctl: bits('sregs', 'lapic') });
    expect(routePush(bits('cpuid', 'regs'), STAGEABLE)).toEqual({ staged: bits('regs'), ioctl: bits('cpuid') });
  });

  it('stages nothing when nothing is stageable', () => {
    expect(routePush(bits('regs', 'sregs'), 0)).toEqual({ staged: 0, ioctl: bits('regs', 'sregs') });
  });
});

describe('SyncRegsArea on a kvm_run buffer', () => {
  const RFLAGS = 304 + 136;
  function area() {
    const run = new DataView(new ArrayBuffer(KvmRunLayout.size));
    const a = new SyncRegsArea(run);
    a.enable(bits('events'));
    return { run, a, bytes: new Uint8Array(run.buffer) };
  }
  const valid = (run: DataView) => run.getUint32(KvmRunLayout.kvm_valid_regs, true);
  const dirty = (run: DataView) => run.getUint32(KvmRunLayout.kvm_dirty_regs, true);

  it('requests regs with any group (the evidence of a run), nothing for []', () => {
    const { run, a } = area();
    expect(valid(run)).toBe(5);
    expect(a.enabledGroups).toBe(bits('regs', 'events'));
    a.enable(0);
    expect(valid(run)).toBe(0);
  });

  it('trusts the area only after KVM wrote it: RFLAGS bit 1, cleared again once copied', () => {
    const { run, a, bytes } = area();
    const into = new Uint8Array(144);
    a.kvmRan(); // no run yet: the area is all zero
    expect(a.read('regs', into)).toBe(false);
    bytes[RFLAGS] = 0x02;
    bytes[304] = 0x42; // rax
    a.kvmRan();
    expect(a.freshGroups).toBe(bits('regs', 'events'));
    expect(a.read('regs', into)).toBe(true);
    expect(into[0]).toBe(0x42);
    expect(bytes[RFLAGS]).toBe(0);
    a.kvmRan(); // an invalidation without a run
    expect(a.read('regs', into)).toBe(false);
    expect(valid(run)).toBe(5);
  });

  it('a staged write sets kvm_dirty_regs and is not requested back until KVM took it', () => {
    const { run, a } = area();
    const regs = new Uint8Array(144);
    new DataView(regs.buffer).setBigUint64(128, 0x1000n, true); // rip
    a.stage('regs', regs);
    expect(dirty(run)).toBe(1);
    expect(valid(run)).toBe(4);
    expect(run.getBigUint64(304 + 128, true)).toBe(0x1000n);
    // KVM returned without applying it (a vCPU waiting for SIPI): still pending.
    expect(a.kvmRan()).toBe(bits('regs'));
    expect(a.stagedGroups).toBe(bits('regs'));
    expect(a.freshGroups).toBe(0);
    // KVM applied it and cleared the bit: regs is requested again; events are fresh (a run happened).
    run.setUint32(KvmRunLayout.kvm_dirty_regs, 0, true);
    expect(a.kvmRan()).toBe(0);
    expect(valid(run)).toBe(5);
    expect(a.freshGroups).toBe(bits('events'));
  });

  it('unstage withdraws the write: dirty bit cleared, group requested again, staged bytes no evidence', () => {
    const { run, a, bytes } = area();
    const regs = new Uint8Array(144);
    regs[136] = 0x02;
    a.stage('regs', regs);
    a.unstage(bits('regs'));
    expect(dirty(run)).toBe(0);
    expect(valid(run)).toBe(5);
    expect(bytes[RFLAGS]).toBe(0);
    a.kvmRan();
    expect(a.freshGroups).toBe(0);
  });
});
