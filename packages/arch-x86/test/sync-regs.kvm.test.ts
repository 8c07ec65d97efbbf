/**
 * KVM_CAP_SYNC_REGS and batched state sync on real KVM (nested x86 tier), with the
 * sync-regs-tests guest: registers read after an exit from kvm_run equal KVM_GET_REGS';
 * registers written by the host before a resume (staged in kvm_run) reach the guest, alongside
 * an sregs write that goes by ioctl; a batched full pull equals an unbatched one; an ioctl that
 * fails inside a batch is named.
 */
import { KvmError, KvmIoctl, KvmRunLayout, kvmIoctl } from '@kvmts/core';
import { X86Ioctl, X86StateSync, X86VcpuEventsLayout, decodeVcpuEvents, queryStateCaps, type X86Regs } from '@kvmts/arch-x86';
import type { Rig } from './support/harness';
import { OUT, kvmRegs, kvmRun, runWithStopHandler, syncRegsRig } from './support/sync-regs-rig';

const KVM_SYNC_X86_REGS = 1;

const rig = syncRegsRig;

describeKvm('KVM_CAP_SYNC_REGS and batched sync on real KVM', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });
  const keep = (r: Rig): Rig => (rigs.push(r), r);

  it('KVM offers the regs, sregs and events groups; kvmts carries regs by default', () => {
    const { cpus, vm } = keep(rig('regs_pattern'));
    const caps = queryStateCaps((cap) => kvmIoctl(vm.fd, KvmIoctl.CHECK_EXTENSION, 'KVM_CHECK_EXTENSION', cap));
    expect(caps.syncRegs).toBe(7);
    expect(cpus[0].syncRegsGroups).toEqual(['regs']);
    expect(kvmRun(cpus[0]).getUint32(KvmRunLayout.kvm_valid_regs, true)).toBe(KVM_SYNC_X86_REGS);
  });

  it('registers read in every exit (from kvm_run) equal KVM_GET_REGS, RIP and RFLAGS included', () => {
    const cpu = keep(rig('regs_pattern')).cpus[0];
    const seen: [X86Regs, X86Regs][] = [];
    const stop = runWithStopHandler(cpu, (c) => seen.push([{ ...c.getRegs() }, kvmRegs(c)]));
    expect(stop).toEqual({ reason: 'poweroff', status: 0 });
    expect(seen).toHaveLength(9);
    for (const [fromRun, fromIoctl] of seen) expect(fromRun).toEqual(fromIoctl);
    // The guest's pattern, and rbx growing by rcx each round: the values are the guest's, not stale.
    expect(seen[0][0]).toMatchObject({ rax: 0x1111111111111111n, rdx: 0x4444444444444444n, r15: 0x0123456789abcdefn, rcx: 8n });
    const rbx = seen.map(([r]) => r.rbx - 0x2222222222222222n);
    expect(rbx).toEqual([0n, 8n, 15n, 21n, 26n, 30n, 33n, 35n, 36n]);
    expect(new Set(seen.map(([r]) => r.rip)).size).toBe(2);
  });

  it('the same with sync regs off (every read a KVM_GET_REGS) and with events carried too', () => {
    for (const syncRegs of [[], ['regs', 'events']] as const) {
      const cpu = keep(rig('regs_pattern', { syncRegs: [...syncRegs] })).cpus[0];
      expect(cpu.syncRegsGroups).toEqual(syncRegs.length === 0 ? [] : ['regs', 'events']);
      const seen: unknown[][] = [];
      runWithStopHandler(cpu, (c) => {
        const events = new DataView(new ArrayBuffer(X86VcpuEventsLayout.size));
        kvmIoctl(c.fd, X86Ioctl.GET_VCPU_EVENTS, 'KVM_GET_VCPU_EVENTS', events);
        seen.push([{ ...c.getRegs() }, kvmRegs(c), JSON.stringify(c.getThreadContext().events, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)), JSON.stringify(decodeVcpuEvents(events), (_k, v) => (typeof v === 'bigint' ? `${v}` : v))]);
      });
      expect(seen).toHaveLength(9);
      for (const [a, b, ea, eb] of seen) {
        expect(a).toEqual(b);
        expect(ea).toEqual(eb);
      }
    }
  });

  it('registers written before a resume (staged in kvm_run) and an FS.base written by ioctl both reach the guest; a write inside an exit too', () => {
    const r = keep(rig('observe', undefined, { rdi: BigInt(OUT) }));
    const cpu = r.cpus[0];
    expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
    cpu.setRegs({ rbx: 0xb0b0b0b0_12345678n, rsi: 0x5151n });
    cpu.setSregs({ fs: { base: 0x7f00_1234_5000n } });
    let stagedInExit = -1;
    const stop = runWithStopHandler(cpu, (c) => {
      c.setRegs({ rbx: 0xd00d_0000_0000_0042n });
      c.syncToKvm();
      // Staged: the write waits in kvm_run for the next KVM_RUN, no ioctl.
      stagedInExit = kvmRun(c).getUint32(KvmRunLayout.kvm_dirty_regs, true);
    });
    expect(stop).toEqual({ reason: 'poweroff', status: 0 });
    expect(stagedInExit).toBe(KVM_SYNC_X86_REGS);
    const out = r.vm.memory().read(OUT, 32);
    const q = (i: number) => Buffer.from(out).readBigUInt64LE(i * 8);
    expect([q(0), q(1), q(2), q(3)]).toEqual([0xb0b0b0b0_12345678n, 0x5151n, 0x7f00_1234_5000n, 0xd00d_0000_0000_0042n]);
    // Nothing is left waiting in kvm_run after the run, and KVM holds what the CPU shows.
    expect(kvmRun(cpu).getUint32(KvmRunLayout.kvm_dirty_regs, true)).toBe(0);
    expect(cpu.getRegs()).toEqual(kvmRegs(cpu));
  });

  it('a register write outside a run is an ioctl: KVM holds it when syncToKvm returns', () => {
    const cpu = keep(rig('observe', undefined, { rdi: BigInt(OUT) })).cpus[0];
    expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
    cpu.setRegs({ r12: 0x1212n });
    cpu.syncToKvm();
    expect(kvmRegs(cpu).r12).toBe(0x1212n);
    expect(kvmRun(cpu).getUint32(KvmRunLayout.kvm_dirty_regs, true)).toBe(0);
  });

  it('a batched full pull (with an in-kernel LAPIC) equals an unbatched, independent one', () => {
    const r = keep(rig('regs_pattern', { irqchip: 'kernel', batchStateSync: true }));
    const cpu = r.cpus[0];
    expect(cpu.runLoop(3)).toEqual({ reason: 'exit-limit' });
    (cpu as unknown as { updateThreadContext(): void }).updateThreadContext();
    const batched = cpu.getThreadContext().toJSON();
    const caps = queryStateCaps((cap) => kvmIoctl(r.vm.fd, KvmIoctl.CHECK_EXTENSION, 'KVM_CHECK_EXTENSION', cap));
    const plain = new X86StateSync((req, op, arg) => kvmIoctl(cpu.fd, req, op, arg), caps);
    plain.configure({ lapic: true, msrList: batched.msrs.map((m) => m.index) });
    plain.pullAll();
    const single = plain.tc.toJSON();
    const { msrs: bm, ...restB } = batched;
    const { msrs: sm, ...restS } = single;
    expect(restB).toEqual(restS);
    // The TSC moves on between the two reads; every other MSR is equal.
    expect(bm.filter((m) => m.index !== 0x10)).toEqual(sm.filter((m) => m.index !== 0x10));
  });

  it('an ioctl KVM refuses inside a batched full push is a KvmError naming it (an XCR0 without x87)', () => {
    const cpu = keep(rig('regs_pattern', { batchStateSync: true })).cpus[0];
    expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
    cpu.markThreadContextDirty();
    const tc = cpu.getThreadContext();
    tc.xcrs.splice(0, tc.xcrs.length, { index: 0, value: 0n });
    let caught: unknown;
    try {
      cpu.syncToKvm();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvmError);
    expect(caught).toMatchObject({ op: 'KVM_SET_XCRS', code: 'EINVAL' });
  });
});
