/**
 * The required MSR proof on real KVM: a CPL0 guest writes every MSR its vCPU's context carries
 * (the serializable list ∩ KVM's, plus those the sregs and lapic groups carry), the vCPU moves
 * into a fresh VM, and the guest reads each one back there: what it wrote, or — for the few a
 * guest may not write (listed below, each with KVM's reason) — what KVM held at the move.
 */
import { LAPIC_REG, MSR, X86ThreadContext, msrName, readLapicReg } from '@kvmts/arch-x86';
import type { Rig } from './support/harness';
import { moveToFreshVm, stateRig, type StateRigOptions } from './support/state-rig';

const TABLE = 0x200000;
const ENTRY_BYTES = 32;
const WRITE_FAULT = 1n;
const READ_FAULT = 2n;

/**
 * MSRs a guest may not write — or even read — on this KVM (6.1 x86.c/svm.c): the access #GPs or
 * the write is dropped. Their values still move: the host reads them in the new VM.
 */
const GUEST_NO_ACCESS: Record<number, string> = {
  0x34: 'SMI_COUNT: host-initiated writes only',
  0x3a: 'FEAT_CTL: VMX only; SVM does not emulate it for the guest',
  0x48: 'SPEC_CTRL: needs IBRS/STIBP/SSBD/SPEC_CTRL in the guest CPUID, which depends on the host',
  0x8b: 'UCODE_REV: guest writes are dropped',
  0x9e: 'SMBASE: host-initiated writes only (or in SMM)',
  0xce: 'PLATFORM_INFO: host-initiated writes only',
  0x10a: 'ARCH_CAPABILITIES: host-initiated writes only',
  0x345: 'PERF_CAPABILITIES: host-initiated writes only',
  0xc001011f: 'VIRT_SPEC_CTRL: needs VIRT_SSBD in the guest CPUID',
};

/** x2APIC MSRs (the lapic group carries them): LVT timer and TPR. */
const X2APIC_LVT_TIMER = 0x832;
const X2APIC_TPR = 0x808;

/**
 * What the guest writes, in this order: x2APIC mode first (so the x2APIC MSRs exist), the LVT
 * timer in TSC-deadline mode (masked) so TSC_DEADLINE keeps its value, TSC then TSC_ADJUST
 * (a guest TSC write moves TSC_ADJUST, so it goes second), then the rest of the list.
 */
function writes(tc: X86ThreadContext): [number, bigint][] {
  const base: [number, bigint][] = [
    [MSR.APIC_BASE, 0xfee00000n | 0x800n | 0x400n | 0x100n],
    [X2APIC_LVT_TIMER, (2n << 17n) | (1n << 16n) | 0xefn],
    [X2APIC_TPR, 0x10n],
    [MSR.TSC, 1n << 36n],
    [MSR.TSC_ADJUST, 1n << 40n],
    [MSR.EFER, tc.sregs.efer | 0x1n | 0x800n], // SCE, NXE
    [0xc0000100, 0x123000n], // FS_BASE
    [0xc0000101, 0x456000n], // GS_BASE
    [0x4b564d06, 0xecn], // ASYNC_PF_INT before ASYNC_PF_EN, which delivers through it
  ];
  const values: Record<number, bigint> = {
    [MSR.TSC_DEADLINE]: 1n << 50n,
    0x140: 1n, // MISC_FEATURES_ENABLES: CPUID faulting (above CPL0)
    [MSR.SYSENTER_CS]: 0x10n,
    [MSR.SYSENTER_ESP]: 0x12345678n,
    [MSR.SYSENTER_EIP]: 0x87654320n,
    0x17a: 0x1n, // MCG_STATUS: RIPV
    [MSR.MISC_ENABLE]: 0n, // boot set FAST_STRING
    0x1fc: 0x4n, // POWER_CTL
    [MSR.PAT]: 0x0007010600070106n,
    [MSR.MTRR_DEF_TYPE]: 0xc06n,
    [MSR.STAR]: 0x0023001000000000n,
    [MSR.LSTAR]: 0xffffffff81000000n,
    [MSR.CSTAR]: 0xffffffff81000100n,
    [MSR.SFMASK]: 0x47700n,
    [MSR.KERNEL_GS_BASE]: 0xffff888000001000n,
    0xc0000103: 0x7n, // TSC_AUX
    0xc0010015: 1n << 18n, // HWCR.McStatusWrEn, the one bit a guest may set
    0xc0010117: 0x3ff000n, // VM_HSAVE_PA: a page-aligned GPA
    // The old and new kvmclock MSRs alias one wall-clock GPA and one system-time value in KVM.
    0x11: 0x302000n, // KVM_WALL_CLOCK: KVM writes the wall clock there
    0x12: 0x303001n, // KVM_SYSTEM_TIME, enabled
    0x4b564d00: 0x302000n,
    0x4b564d01: 0x303001n,
    0x4b564d02: 0x304000n | 0x8n | 0x1n, // ASYNC_PF_EN: enabled, delivered as an interrupt
    0x4b564d03: 0x305000n | 0x1n, // STEAL_TIME, enabled
    0x4b564d04: 0x306000n | 0x1n, // PV_EOI_EN, enabled
    0x4b564d05: 0n, // POLL_CONTROL (default 1)
  };
  const mtrr = (i: number): bigint => {
    if (i >= 0x200 && i < 0x220) return i & 1 ? 0xfff00800n : BigInt(0x80000006 + (i - 0x200) * 0x100000); // PHYSMASK valid | PHYSBASE, WB
    const types = [0n, 1n, 4n, 5n, 6n]; // fixed ranges: a valid memory type per byte, varied per MSR
    return Array.from({ length: 8 }, (_, j) => types[(i + j) % types.length] << BigInt(8 * j)).reduce((a, b) => a | b);
  };
  const carried = tc.msrs.map((m) => m.index).filter((i) => !base.some(([b]) => b === i));
  const rest = carried.map((i): [number, bigint] => [i, values[i] ?? (i >= 0x200 && i < 0x270 ? mtrr(i) : tc.msr(i)!)]);
  // TSC_DEADLINE after TSC and TSC_ADJUST moved the clock.
  return [...base.filter(([i]) => i !== 0x4b564d06 || tc.msrs.some((m) => m.index === i)), ...rest.filter(([i]) => i !== MSR.TSC_DEADLINE), ...rest.filter(([i]) => i === MSR.TSC_DEADLINE)];
}

/** The value of MSR `index` as the context holds it, whichever group carries it. */
function heldBy(tc: X86ThreadContext, index: number): bigint {
  if (index === MSR.APIC_BASE) return tc.sregs.apicBase;
  if (index === MSR.EFER) return tc.sregs.efer;
  if (index === 0xc0000100) return tc.sregs.fs.base;
  if (index === 0xc0000101) return tc.sregs.gs.base;
  if (index === X2APIC_LVT_TIMER) return BigInt(readLapicReg(tc.lapic, LAPIC_REG.LVT_TIMER));
  if (index === X2APIC_TPR) return BigInt(readLapicReg(tc.lapic, LAPIC_REG.TPR));
  return tc.msr(index)!;
}

describeKvm('MSRs on real KVM (CPL0 guest, in-kernel LAPIC)', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });

  it('a guest reads back, in a fresh VM, every MSR of the serializable list it wrote', () => {
    // The guest's table needs this vCPU's list: build once to read it, then the real run.
    const probe = stateRig({ entry: 'msr_roundtrip', archOptions: { irqchip: 'kernel' } });
    rigs.push(probe);
    const list = writes(probe.cpus[0].getThreadContext());
    const table = new Uint8Array(list.length * ENTRY_BYTES);
    const v = new DataView(table.buffer);
    list.forEach(([index, value], i) => {
      v.setUint32(i * ENTRY_BYTES, index, true);
      v.setBigUint64(i * ENTRY_BYTES + 8, value, true);
    });
    const options: StateRigOptions = { entry: 'msr_roundtrip', registers: { rsi: TABLE, rcx: list.length }, data: [{ gpa: TABLE, bytes: table }], archOptions: { irqchip: 'kernel' } };
    const a = stateRig(options);
    rigs.push(a);
    expect(a.cpus[0].runLoop(1)).toEqual({ reason: 'exit-limit' });
    const moved = X86ThreadContext.fromData(a.cpus[0].getThreadContext().toJSON());
    const b = moveToFreshVm(a, options);
    rigs.push(b);
    expect(b.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });

    const out = new DataView(b.vm.memory().read(TABLE, table.length).buffer);
    const after = b.cpus[0].getThreadContext();
    const wrong: string[] = [];
    const noAccessSeen: number[] = [];
    list.forEach(([index, value], i) => {
      const readback = out.getBigUint64(i * ENTRY_BYTES + 16, true);
      const status = out.getBigUint64(i * ENTRY_BYTES + 24, true);
      const atMove = heldBy(moved, index);
      const name = `${msrName(index)} (0x${index.toString(16)})`;
      if (index in GUEST_NO_ACCESS) {
        noAccessSeen.push(index);
        const there = after.msr(index)!;
        if (there !== atMove) wrong.push(`${name}: the new VM holds 0x${there.toString(16)}, moved 0x${atMove.toString(16)}`);
        if (!(status & READ_FAULT) && readback !== atMove) wrong.push(`${name}: read 0x${readback.toString(16)}, moved 0x${atMove.toString(16)}`);
      } else if (status & (WRITE_FAULT | READ_FAULT)) wrong.push(`${name}: ${status & WRITE_FAULT ? 'wrmsr' : 'rdmsr'} faulted`);
      else if (index === MSR.TSC) {
        if (!(atMove >= value && readback >= atMove)) wrong.push(`${name}: wrote 0x${value.toString(16)}, moved 0x${atMove.toString(16)}, read 0x${readback.toString(16)}`);
      } else if (atMove !== value || readback !== value) {
        wrong.push(`${name}: wrote 0x${value.toString(16)}, moved 0x${atMove.toString(16)}, read 0x${readback.toString(16)}`);
      }
    });
    expect(wrong).toEqual([]);
    // Every MSR the context carries was covered, plus the ones other groups carry.
    expect(moved.msrs.filter((m) => !list.some(([i]) => i === m.index))).toEqual([]);
    expect(list.length).toBe(moved.msrs.length + 6);
    process.stdout.write(`MSRs: ${list.length} written and read back in a fresh VM; not guest-accessible, checked by the host: ${noAccessSeen.map((i) => msrName(i)).join(', ')}\n`);
  });
});
