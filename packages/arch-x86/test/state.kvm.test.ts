/**
 * vCPU state on real KVM: every group moves between VMs bit for bit; AVX (and AVX-512 where the
 * host has it) and x87 state set by a guest survives a move mid-computation, which then ends as
 * an uninterrupted run does; the guest's TSC never goes backwards across a pause or a move.
 */
import { KvmIoctl, kvmIoctl } from '@kvmts/core';
import { MSR, X86Ioctl, X86StateSync, X86_STATE_GROUPS, queryStateCaps, readVcpuMsrs, readXstateBv, type X86KvmCPU, type X86ThreadContextData } from '@kvmts/arch-x86';
import type { Rig } from './support/harness';
import { enableAvx, moveToFreshVm, stateRig, type StateRigOptions } from './support/state-rig';

const OUT = 0x200000;
const ITERATIONS = 2000;

/** A second state sync on `cpu`'s fd, independent of the CPU's own: reads and writes behind its back. */
function independent(cpu: X86KvmCPU, vmFd: number, lapic: boolean, msrList: readonly number[]): X86StateSync {
  const check = (cap: number) => kvmIoctl(vmFd, KvmIoctl.CHECK_EXTENSION, 'KVM_CHECK_EXTENSION', cap);
  const sync = new X86StateSync((req, op, arg) => kvmIoctl(cpu.fd, req, op, arg), queryStateCaps(check));
  sync.configure({ lapic, msrList });
  return sync;
}

/** Everything KVM holds for `cpu`, read by an independent state sync. */
function readBack(cpu: X86KvmCPU, vmFd: number, like: X86ThreadContextData): X86ThreadContextData {
  const sync = independent(cpu, vmFd, like.lapic.length > 0, like.msrs.map((m) => m.index));
  sync.pullAll();
  return sync.tc.toJSON();
}

describeKvm('x86 state on real KVM', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });
  const keep = (r: Rig): Rig => (rigs.push(r), r);

  const avx = (stopAt: number): StateRigOptions => ({ entry: 'avx_mix', cpl: 3, registers: { rcx: ITERATIONS, rdx: stopAt, rdi: OUT }, archOptions: { irqchip: 'kernel' } });
  /** A VM running avx_mix with its AVX state enabled (the host sets CR4 and XCR0, as an OS would). */
  const avxRig = (stopAt: number): Rig => {
    const r = keep(stateRig(avx(stopAt)));
    enableAvx(r.cpus[0]);
    return r;
  };

  it('every state group moves into a fresh VM bit for bit (read back by an independent reader; TSC only moves forward)', () => {
    const a = avxRig(ITERATIONS / 2);
    expect(a.cpus[0].runLoop(1)).toEqual({ reason: 'exit-limit' });
    a.cpus[0].markDirty('debugRegs');
    const tcA = a.cpus[0].getThreadContext();
    tcA.debugRegs.db.splice(0, 4, 0x1000n, 0x2000n, 0x3000n, 0x4000n);
    tcA.debugRegs.dr7 = 0x400n | 0x2n; // DR0 enabled (global), the rest off
    const moved = tcA.toJSON();
    const b = keep(moveToFreshVm(a, avx(ITERATIONS / 2)));
    const back = readBack(b.cpus[0], b.vm.fd, moved);
    for (const g of X86_STATE_GROUPS) {
      if (g === 'msrs') continue;
      expect([g, back[g]]).toEqual([g, moved[g]]);
    }
    expect(back.msrs.map((m) => m.index)).toEqual(moved.msrs.map((m) => m.index));
    back.msrs.forEach((m, i) => {
      if (m.index === MSR.TSC) expect(m.value).toBeGreaterThanOrEqual(moved.msrs[i].value);
      else expect([m.index, m.value]).toEqual([m.index, moved.msrs[i].value]);
    });
    expect(readXstateBv(moved.xsave) & 0x4n).toBe(0x4n); // the guest's AVX state is in the image
    expect(moved.xcrs).toEqual([{ index: 0, value: expect.any(BigInt) }]);
    expect(moved.xcrs[0].value & 0x7n).toBe(0x7n);
  });

  it('AVX and x87 state set by a guest survive a move mid-computation: the result equals an uninterrupted run', () => {
    const straight = avxRig(0);
    expect(straight.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });
    const avx512 = straight.cpus[0].getRegs().r15 === 1n;
    const bytes = avx512 ? 0x940 : 0x200;
    const expected = straight.vm.memory().read(OUT, 0x1000);

    const first = avxRig(ITERATIONS / 2);
    expect(first.cpus[0].runLoop(1)).toEqual({ reason: 'exit-limit' });
    const second = keep(moveToFreshVm(first, avx(ITERATIONS / 2)));
    expect(second.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });
    const got = second.vm.memory().read(OUT, 0x1000);
    expect(Buffer.from(got.subarray(0, bytes)).equals(Buffer.from(expected.subarray(0, bytes)))).toBe(true);
    expect(Buffer.from(got.subarray(0x900, 0x90a)).equals(Buffer.from(expected.subarray(0x900, 0x90a)))).toBe(true);
    expect(Buffer.from(expected.subarray(0x900, 0x90a)).some((b) => b !== 0)).toBe(true);
    process.stdout.write(`avx_mix: the ${avx512 ? 'AVX-512 (zmm0-31, k1)' : 'AVX2 (ymm0-15; no AVX-512 on this host)'} and x87 state moved intact\n`);
  });

  it('…and the test would notice a lost upper half: keeping only x87|SSE (gem5\'s XSTATE_BV) changes the result', () => {
    const straight = avxRig(0);
    expect(straight.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });
    const expected = straight.vm.memory().read(OUT, 0x200);
    const first = avxRig(ITERATIONS / 2);
    expect(first.cpus[0].runLoop(1)).toEqual({ reason: 'exit-limit' });
    const second = keep(moveToFreshVm(first, avx(ITERATIONS / 2), (tc) => {
      new DataView(tc.xsave.buffer, tc.xsave.byteOffset).setBigUint64(512, readXstateBv(tc.xsave) & 3n, true);
    }));
    expect(second.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });
    expect(Buffer.from(second.vm.memory().read(OUT, 0x200)).equals(Buffer.from(expected))).toBe(false);
  });

  describe('TSC', () => {
    const START = 1n << 40n;
    /** How far KVM's TSC is moved while the CPU holds a pulled copy (an hour at 1 GHz). */
    const JUMP = 3_600_000_000_000n;
    const tscOptions: StateRigOptions = { entry: 'tsc_probe', registers: { rdi: OUT, rsi: START }, archOptions: { irqchip: 'kernel' } };
    const samples = (r: Rig): bigint[] => {
      const v = new DataView(r.vm.memory().read(OUT, 24).buffer);
      return [0, 8, 16].map((o) => v.getBigUint64(o, true));
    };

    it('pushing the MSR group back never rewinds it; a move to another VM continues from the saved value', () => {
      const a = keep(stateRig(tscOptions));
      const cpu = a.cpus[0];
      const khz = kvmIoctl(cpu.fd, X86Ioctl.GET_TSC_KHZ, 'KVM_GET_TSC_KHZ');
      expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
      // Pull the MSRs (TSC among them) and change another one, so the group is pushed back.
      cpu.markDirty('msrs');
      const tc = cpu.getThreadContext();
      const pulled = tc.msr(MSR.TSC)!;
      tc.msrs.find((m) => m.index === MSR.LSTAR)!.value = 0xffffffff81000000n;
      // Time passes before the push. This host's KVM stops a guest's TSC while its vCPU is out of
      // KVM_RUN (an unstable host TSC under TCG: tsc_catchup), so a real pause would not show a
      // rewind; moving KVM's TSC ahead behind the CPU's back does, on any host.
      const ahead = independent(cpu, a.vm.fd, true, [MSR.TSC]);
      ahead.markDirty('msrs');
      ahead.tc.msrs[0].value = pulled + JUMP;
      ahead.pushDirty();
      cpu.syncToKvm();
      const [now] = readVcpuMsrs(cpu.fd, [MSR.TSC]);
      expect(now.value).toBeGreaterThanOrEqual(pulled + JUMP);
      expect(cpu.runLoop(1)).toEqual({ reason: 'exit-limit' });
      const [t0, t1] = samples(a);
      expect(t0).toBeGreaterThanOrEqual(START);
      expect(t1 - t0).toBeGreaterThanOrEqual(JUMP);

      const b = keep(moveToFreshVm(a, tscOptions));
      expect(b.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });
      const [, t1b, t2] = samples(b);
      expect(t1b).toBe(t1);
      expect(t2).toBeGreaterThanOrEqual(t1);
      // A fresh VM's own TSC starts near 0, far below the guest's: the move carried it.
      expect(t2 - t1).toBeLessThan(BigInt(khz) * 60_000n);
    });
  });
});
