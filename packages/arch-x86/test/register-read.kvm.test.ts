/**
 * X86KvmCPU.readRegister / readRip — one general register without decoding the context — on
 * real KVM (nested x86 tier), with the sync-regs-tests guest: in every exit each of the 18
 * registers read this way, before anything else reads the context (so straight from kvm_run
 * with KVM_CAP_SYNC_REGS), equals KVM_GET_REGS and getRegs(), with the cap on (regs; regs and
 * events) and off; a register written in an exit reads back at once, before and after the
 * handler pushes it, and reaches the guest.
 */
import { ConfigError, type CpuStop } from '@kvmts/core';
import { X86_GPR_NAMES, createX86Regs, type X86Regs } from '@kvmts/arch-x86';
import type { Rig } from './support/harness';
import { OUT, kvmRegs, runWithStopHandler, syncRegsRig } from './support/sync-regs-rig';

const rig = syncRegsRig;

describeKvm('readRegister / readRip on real KVM', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });
  const keep = (r: Rig): Rig => (rigs.push(r), r);

  it.each([
    ['regs in kvm_run (the default)', undefined, ['regs']],
    ['regs and events in kvm_run', ['regs', 'events'], ['regs', 'events']],
    ['no sync regs (KVM_GET_REGS)', [], []],
  ] as const)('with %s, every register read alone in every exit equals KVM_GET_REGS and getRegs()', (_name, syncRegs, carried) => {
    const cpu = keep(rig('regs_pattern', syncRegs === undefined ? undefined : { syncRegs: [...syncRegs] })).cpus[0];
    expect(cpu.syncRegsGroups).toEqual(carried);
    const seen: { alone: X86Regs; rip: bigint; kvm: X86Regs; objects: X86Regs }[] = [];
    const stop = runWithStopHandler(cpu, (c) => {
      // First thing in the exit: nothing has read the context since KVM_RUN returned.
      const rip = c.readRip();
      const alone = createX86Regs();
      for (const n of X86_GPR_NAMES) alone[n] = c.readRegister(n);
      seen.push({ alone, rip, kvm: kvmRegs(c), objects: { ...c.getRegs() } });
    });
    expect(stop).toEqual({ reason: 'poweroff', status: 0 });
    expect(seen).toHaveLength(9);
    for (const { alone, rip, kvm, objects } of seen) {
      expect(alone).toEqual(kvm);
      expect(objects).toEqual(kvm);
      expect(rip).toBe(kvm.rip);
      // RFLAGS bit 1 (the always-one bit kvmts uses as the evidence of a run) reads as KVM has it.
      expect(alone.rflags & 2n).toBe(2n);
    }
    // The guest's values, fresh in each exit: rbx grows by rcx (8, 7, …, 1).
    expect(seen.map(({ alone }) => alone.rbx - 0x2222222222222222n)).toEqual([0n, 8n, 15n, 21n, 26n, 30n, 33n, 35n, 36n]);
    expect(seen[0].alone).toMatchObject({ rax: 0x1111111111111111n, rcx: 8n, r15: 0x0123456789abcdefn });
  });

  it('a register written in an exit reads back at once through readRegister, before and after the push, and the guest continues with it', () => {
    const r = keep(rig('observe', undefined, { rdi: BigInt(OUT) }));
    const cpu = r.cpus[0];
    const readBack: bigint[] = [];
    let stops = 0;
    const stop = runWithStopHandler(cpu, (c) => {
      stops++;
      expect(c.readRegister('rdi')).toBe(BigInt(OUT));
      if (stops === 1) c.setRegs({ rbx: 0x1234_5678_9abc_def0n, rsi: 0x5151n });
      else c.setRegs({ rbx: 0xd00d_0000_0000_0042n });
      readBack.push(c.readRegister('rbx'));
      // A handler's writes reach KVM when it pushes them (staged in kvm_run inside a run).
      c.syncToKvm();
      readBack.push(c.readRegister('rbx'), c.readRegister('rsi'));
    });
    expect(stop).toEqual({ reason: 'poweroff', status: 0 });
    expect(readBack).toEqual([0x1234_5678_9abc_def0n, 0x1234_5678_9abc_def0n, 0x5151n, 0xd00d_0000_0000_0042n, 0xd00d_0000_0000_0042n, 0x5151n]);
    const out = Buffer.from(r.vm.memory().read(OUT, 32));
    expect([out.readBigUInt64LE(0), out.readBigUInt64LE(8), out.readBigUInt64LE(24)]).toEqual([0x1234_5678_9abc_def0n, 0x5151n, 0xd00d_0000_0000_0042n]);
    // After the run, outside any exit: the same value as KVM_GET_REGS.
    expect(cpu.readRip()).toBe(kvmRegs(cpu).rip);
  });

  it('a name that is not a general register is a ConfigError naming it, not a read of kvm_run', () => {
    const cpu = keep(rig('regs_pattern')).cpus[0];
    expect(() => cpu.readRegister('eax' as never)).toThrow(/'eax' is not a general register \(one of rax, /);
    expect(() => cpu.readRegister('constructor' as never)).toThrow(ConfigError);
  });
});
