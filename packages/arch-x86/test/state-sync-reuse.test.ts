/**
 * X86StateSync reuses its raw buffers from one full sync to the next (the CPUID buffer's
 * sentinels reset only where KVM wrote, the raw MSR push's block copies set up once): proved on
 * the fake vCPU of support/fake-vcpu.ts by round trips whose tables change size between pulls,
 * and raw MSR pushes with the TSC at each place in the list, against golden values.
 */
import { MSR, X86StateSync, type CpuidEntry } from '@kvmts/arch-x86';
import { FULL_CAPS, FakeVcpu } from './support/fake-vcpu';

function rig(msrList: number[] = []) {
  const kvm = new FakeVcpu(FULL_CAPS);
  const sync = new X86StateSync(kvm.ioctl, FULL_CAPS, 'vCPU 0');
  sync.configure({ lapic: true, msrList });
  return { kvm, sync, tc: sync.tc };
}

const table = (n: number, tag: number): CpuidEntry[] => Array.from({ length: n }, (_, i) => ({ function: i, index: tag, flags: 0, eax: i * tag, ebx: tag, ecx: 0, edx: 0 }));

/** What BaseKvmCPU does around a checkpoint: forget, pull everything, mark dirty, push. */
function roundTrip(sync: X86StateSync): void {
  sync.invalidate();
  sync.pullAll();
  sync.markAllDirty();
  sync.pushDirty();
}

describe('X86StateSync buffer reuse across full syncs', () => {
  it('counts CPUID right when the table shrinks, grows and shrinks again between pulls (80 → 40 → 120 → 1 entries)', () => {
    const { kvm, sync, tc } = rig();
    for (const [n, tag] of [[80, 1], [40, 2], [120, 3], [1, 4]]) {
      sync.edit('cpuid', false, (d) => (d.cpuid = table(n, tag)));
      roundTrip(sync);
      // The raw push hands KVM back exactly the entries it gave.
      expect(kvm.cpuidCount).toBe(n);
      sync.invalidate();
      expect(tc.cpuid).toEqual(table(n, tag));
    }
  });

  it('counts CPUID right after the buffer grew past 256 entries and the table shrank again', () => {
    const { sync, tc } = rig();
    sync.edit('cpuid', false, (d) => (d.cpuid = table(300, 5)));
    sync.invalidate();
    expect(tc.cpuid).toHaveLength(300);
    sync.edit('cpuid', false, (d) => (d.cpuid = table(7, 6)));
    roundTrip(sync);
    sync.invalidate();
    expect(tc.cpuid).toEqual(table(7, 6));
  });

  it.each([
    ['first', [MSR.TSC, MSR.SYSENTER_CS, MSR.PAT, MSR.TSC_DEADLINE]],
    ['in the middle', [MSR.SYSENTER_CS, MSR.TSC, MSR.PAT, MSR.TSC_DEADLINE]],
    ['last', [MSR.SYSENTER_CS, MSR.PAT, MSR.TSC_DEADLINE, MSR.TSC]],
    ['absent', [MSR.SYSENTER_CS, MSR.PAT, MSR.TSC_DEADLINE]],
  ])('a raw MSR push with the TSC %s writes back every pulled MSR but the TSC, in list order, each round trip', (_where, list) => {
    const { kvm, sync } = rig(list);
    const expected = list.filter((i) => i !== MSR.TSC).map((i): [number, bigint] => [i, BigInt(i) * 3n]);
    roundTrip(sync);
    // KVM's values change between the round trips: the second push carries the new ones.
    for (const i of list) kvm.msrs.set(i, BigInt(i) * 5n);
    roundTrip(sync);
    expect(kvm.msrWrites).toEqual([expected, list.filter((i) => i !== MSR.TSC).map((i): [number, bigint] => [i, BigInt(i) * 5n])]);
  });

  it('a round trip with only the TSC carried pushes no KVM_SET_MSRS', () => {
    const { kvm, sync } = rig([MSR.TSC]);
    roundTrip(sync);
    expect(kvm.calls).not.toContain('KVM_SET_MSRS');
  });
});
