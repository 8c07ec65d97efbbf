/**
 * The x86 KVM ABI tables against the installed kernel headers (<asm/kvm.h>, <linux/kvm.h>):
 * a C probe generated from the tables is compiled with gcc and every ioctl number, constant,
 * struct size, member offset, member size and array stride is compared.
 * Needs gcc + linux-libc-dev; fails (not skips) without them.
 */
import { IocDir, KvmAbiIntroducedIn, KvmIoctl, decodeIoctl } from '@kvmts/core';
import * as x86 from '../src/abi';
import {
  X86AbiTablePrefixes,
  X86Ioctl,
  X86Layouts,
  X86RegsLayout,
  X86SegmentLayout,
  X86SregsLayout,
  X86Sregs2Layout,
  X86_GPR_NAMES,
  X86_SEGMENT_ATTR_NAMES,
  X86_SEGMENT_NAMES,
  X86_DTABLE_NAMES,
  X86_SREGS_U64,
} from '../src/abi';
import {
  type CollectedChecks,
  type ProbeResult,
  collectAbiChecks,
  compareWithProbe,
  runAbiProbe,
} from '@kvmts/core';

const collectOptions = {
  tablePrefixes: X86AbiTablePrefixes,
  notAbi: ['X86AbiTablePrefixes', 'X86_GPR_NAMES', 'X86_SEGMENT_NAMES', 'X86_DTABLE_NAMES', 'X86_SREGS_U64',
    'X86_SEGMENT_ATTR_NAMES', 'X86_REG_WORD' /* each register's word in kvm_regs, from X86RegsLayout (checked) */],
  namedConstants: {
    X86_INTERRUPT_BITMAP_WORDS: 'sizeof(((struct kvm_sregs *)0)->interrupt_bitmap) / sizeof(__u64)',
    X86_FPR_COUNT: 'sizeof(((struct kvm_fpu *)0)->fpr) / sizeof(((struct kvm_fpu *)0)->fpr[0])',
    X86_XMM_COUNT: 'sizeof(((struct kvm_fpu *)0)->xmm) / sizeof(((struct kvm_fpu *)0)->xmm[0])',
    X86_DR_ADDRESS_COUNT: 'sizeof(((struct kvm_debugregs *)0)->db) / sizeof(__u64)',
    X86_REGS_WORDS: 'sizeof(struct kvm_regs) / sizeof(__u64)',
  },
};

let collected: CollectedChecks | undefined;
let probe: ProbeResult | undefined;
function probed(): { collected: CollectedChecks; probe: ProbeResult } {
  collected ??= collectAbiChecks(x86 as unknown as Record<string, unknown>, collectOptions);
  probe ??= runAbiProbe(collected.checks);
  return { collected, probe };
}
const req = (name: keyof typeof X86Ioctl): bigint | undefined => probe?.values.get(`X86Ioctl.${name} (KVM_${name})`);

describe('x86 KVM ABI tables vs installed kernel headers', () => {
  it('classifies every export of arch-x86/abi (no table escapes the check)', () => {
    const { unclassified, checks } = collectAbiChecks(x86 as unknown as Record<string, unknown>, collectOptions);
    expect(unclassified).toEqual([]);
    for (const k of Object.keys(X86Ioctl)) expect(checks.some((c) => c.macro === `KVM_${k}`)).toBe(true);
    // every layout in the X86Layouts list is exported (and so checked) by name
    const exported = new Set(Object.values(x86));
    for (const l of X86Layouts) expect(exported.has(l)).toBe(true);
  });

  it('matches every ioctl number, constant, struct size, member offset, size and stride', () => {
    const { collected: col, probe: p } = probed();
    expect(col.checks.length).toBeGreaterThan(400);
    expect(compareWithProbe(col.checks, p, KvmAbiIntroducedIn)).toEqual([]);
  });

  it('has no request number that collides with another x86 or generic ioctl', () => {
    const all = [...Object.entries(KvmIoctl), ...Object.entries(X86Ioctl)];
    const seen = new Map<number, string>();
    for (const [name, v] of all) {
      expect([name, seen.get(v)]).toEqual([name, undefined]);
      seen.set(v, name);
    }
  });

  it('keeps KVM_SET_IRQCHIP encoded _IOR (historical quirk) while GET_IRQCHIP is _IOWR', () => {
    probed();
    expect(decodeIoctl(X86Ioctl.SET_IRQCHIP)).toEqual({ dir: IocDir.READ, type: 0xae, nr: 0x63, size: 520 });
    expect(decodeIoctl(X86Ioctl.GET_IRQCHIP).dir).toBe(IocDir.READ | IocDir.WRITE);
    expect(req('SET_IRQCHIP')).toBe(0x8208ae63n);
  });

  it('keeps the shared-nr pairs apart by direction and size', () => {
    probed();
    const pairs: [keyof typeof X86Ioctl, keyof typeof X86Ioctl, number][] = [
      ['GET_PIT2', 'GET_VCPU_EVENTS', 0x9f],
      ['SET_PIT2', 'SET_VCPU_EVENTS', 0xa0],
      ['SET_DEBUGREGS', 'SET_TSC_KHZ', 0xa2],
    ];
    for (const [a, b, nr] of pairs) {
      expect([decodeIoctl(X86Ioctl[a]).nr, decodeIoctl(X86Ioctl[b]).nr]).toEqual([nr, nr]);
      expect(X86Ioctl[a]).not.toBe(X86Ioctl[b]);
      expect([req(a), req(b)]).toEqual([BigInt(X86Ioctl[a]), BigInt(X86Ioctl[b])]);
    }
    // GET_TSC_KHZ (x86, _IO) and ENABLE_CAP (generic, _IOW 104) share nr 0xa3
    expect(decodeIoctl(X86Ioctl.GET_TSC_KHZ).nr).toBe(decodeIoctl(KvmIoctl.ENABLE_CAP).nr);
    expect(req('GET_TSC_KHZ')).toBe(0xaea3n);
  });

  it('matches the reference probe output for the vCPU state ioctls', () => {
    expect(X86Ioctl.GET_REGS).toBe(0x8090ae81);
    expect(X86Ioctl.SET_SREGS).toBe(0x4138ae84);
    expect(X86Ioctl.GET_SREGS2).toBe(0x8140aecc);
    expect(X86Ioctl.GET_XSAVE2).toBe(0x9000aecf);
    expect(X86Ioctl.X86_SET_MSR_FILTER).toBe(0x4188aec6);
    expect(X86Ioctl.GET_SUPPORTED_CPUID).toBe(0xc008ae05);
  });
});

describe('x86 register lists agree with the layout tables', () => {
  it('lists the GPRs in kvm_regs order, covering every member', () => {
    expect([...X86_GPR_NAMES]).toEqual(Object.keys(X86RegsLayout.fields));
    const offsets = X86_GPR_NAMES.map((n) => X86RegsLayout.fields[n].offset);
    expect(offsets).toEqual(X86_GPR_NAMES.map((_, i) => i * 8));
  });

  it('lists segment attributes in struct order, between selector and padding', () => {
    const keys = Object.keys(X86SegmentLayout.fields);
    expect(keys.slice(3, -1)).toEqual([...X86_SEGMENT_ATTR_NAMES]);
  });

  it('covers every kvm_sregs member with the segment, dtable, u64 lists and the bitmap', () => {
    const covered = [...X86_SEGMENT_NAMES, ...X86_DTABLE_NAMES, ...X86_SREGS_U64.map((r) => r.member), 'interrupt_bitmap'];
    expect(covered).toEqual(Object.keys(X86SregsLayout.fields));
  });

  it('lays out the members kvm_sregs2 shares with kvm_sregs at the same offsets (the codecs rely on it)', () => {
    const shared = [...X86_SEGMENT_NAMES, ...X86_DTABLE_NAMES, ...X86_SREGS_U64.map((r) => r.member)];
    expect(shared.map((m) => X86Sregs2Layout.fields[m])).toEqual(shared.map((m) => X86SregsLayout.fields[m]));
    expect([...shared, 'flags', 'pdptrs']).toEqual(Object.keys(X86Sregs2Layout.fields));
  });
});
