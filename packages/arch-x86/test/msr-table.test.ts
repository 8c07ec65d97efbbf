/**
 * The serializable-MSR table against KVM's index lists measured on the two kinds of host kvmts
 * runs on: the intersection is golden, in restore order (TSC first, TSC_DEADLINE last), and
 * MTRRs join by the guest's CPUID, not by KVM's list (which never names them).
 */
import { MSR, X86_MSRS_NOT_CARRIED, X86_SERIALIZABLE_MSRS, msrName, serializableMsrs } from '@kvmts/arch-x86';
import { NESTED_SVM_MSR_INDEX_LIST, PVM_MSR_INDEX_LIST } from './fixtures/host-tables';

const hex = (list: readonly number[]) => list.map((i) => '0x' + i.toString(16));
/** KVM's MTRRcap: WC, FIX and 8 variable ranges. */
const MTRR_CAP = 0x508n;

describe('serializable MSRs: the table ∩ KVM_GET_MSR_INDEX_LIST', () => {
  it('nested SVM host, in-kernel LAPIC, guest with MTRRs: golden list in restore order', () => {
    const list = serializableMsrs(NESTED_SVM_MSR_INDEX_LIST, { mtrr: true, mtrrCap: MTRR_CAP, lapic: true });
    expect(hex(list)).toEqual([
      '0x10', '0x3a', '0x3b', '0x34', '0x48', '0x8b', '0x9e', '0xce', '0x10a', '0x140', '0x174', '0x175', '0x176', '0x17a', '0x1a0', '0x1fc',
      '0x200', '0x201', '0x202', '0x203', '0x204', '0x205', '0x206', '0x207', '0x208', '0x209', '0x20a', '0x20b', '0x20c', '0x20d', '0x20e', '0x20f',
      '0x250', '0x258', '0x259', '0x268', '0x269', '0x26a', '0x26b', '0x26c', '0x26d', '0x26e', '0x26f', '0x277', '0x2ff', '0x345',
      '0xc0000081', '0xc0000082', '0xc0000083', '0xc0000084', '0xc0000102', '0xc0000103', '0xc0010015', '0xc0010117', '0xc001011f',
      '0x11', '0x12', '0x4b564d00', '0x4b564d01', '0x4b564d02', '0x4b564d03', '0x4b564d04', '0x4b564d05', '0x4b564d06', '0x6e0',
    ]);
  });

  it('PVM host, no in-kernel LAPIC, guest without MTRRs: golden list', () => {
    const list = serializableMsrs(PVM_MSR_INDEX_LIST, { mtrr: false, mtrrCap: MTRR_CAP, lapic: false });
    expect(hex(list)).toEqual([
      '0x10', '0x3a', '0x3b', '0x34', '0x8b', '0xce', '0x10a', '0x140', '0x174', '0x175', '0x176', '0x17a', '0x1a0', '0x1d9', '0x1db', '0x1dc',
      '0x1dd', '0x1de', '0x1fc', '0x277', '0x345', '0xc0000081', '0xc0000082', '0xc0000083', '0xc0000084', '0xc0000102', '0xc0010015',
      '0xc0010117', '0xc001011f', '0x11', '0x12', '0x4b564d00', '0x4b564d01', '0x4b564d02', '0x4b564d03', '0x4b564d04', '0x4b564d05',
    ]);
  });

  it('never carries what another group holds (EFER, APIC_BASE, FS/GS base, x2APIC) or what the table excludes', () => {
    const everything = Array.from({ length: 0x1000 }, (_, i) => i).concat(NESTED_SVM_MSR_INDEX_LIST, [MSR.EFER, 0xc0000100, 0xc0000101]);
    const list = new Set(serializableMsrs(everything, { mtrr: true, mtrrCap: MTRR_CAP, lapic: true }));
    for (const i of [MSR.EFER, MSR.APIC_BASE, 0xc0000100, 0xc0000101, 0x800, 0x830]) expect(list.has(i)).toBe(false);
    for (const row of X86_MSRS_NOT_CARRIED) expect(list.has(row.index)).toBe(false);
  });

  it('sizes the variable-range MTRRs by MTRRcap.VCNT', () => {
    const two = serializableMsrs([], { mtrr: true, mtrrCap: 0x502n, lapic: false });
    expect(hex(two.filter((i) => i >= 0x200 && i < 0x220))).toEqual(['0x200', '0x201', '0x202', '0x203']);
  });

  it('names MSRs for dumps, ranges included', () => {
    expect([msrName(0x10), msrName(0x203), msrName(0x26c), msrName(0x6e0), msrName(0x832), msrName(0x1234)]).toEqual([
      'TSC', 'MTRR_PHYSMASK1', 'MTRR_FIX4K_E0000', 'TSC_DEADLINE', 'X2APIC+0x32', 'MSR_0x1234',
    ]);
  });

  it('lists every MSR once across both tables', () => {
    const seen = new Set<number>();
    for (const row of [...X86_SERIALIZABLE_MSRS, ...X86_MSRS_NOT_CARRIED]) {
      for (let i = 0; i < (row.count ?? 1); i++) {
        expect(seen.has(row.index + i)).toBe(false);
        seen.add(row.index + i);
      }
    }
  });
});
