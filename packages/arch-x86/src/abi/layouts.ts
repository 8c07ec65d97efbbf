import type { AbiStruct } from '@kvmts/core';

/**
 * x86-64 KVM struct layouts (arch/x86/include/uapi/asm/kvm.h and the x86 view of
 * include/uapi/linux/kvm.h), as data: field key = C member designator, {offset, size} in
 * bytes, `stride` = element size of array members (flexible arrays have size 0).
 * Every table is checked member by member against the installed headers by
 * test/abi.test.ts; codecs (./regs-codec.ts, ./sregs-codec.ts) read their offsets from here.
 */

const u8 = (offset: number) => ({ offset, size: 1 }) as const;
const u16 = (offset: number) => ({ offset, size: 2 }) as const;
const u32 = (offset: number) => ({ offset, size: 4 }) as const;
const u64 = (offset: number) => ({ offset, size: 8 }) as const;
const arr = (offset: number, count: number, stride: number) => ({ offset, size: count * stride, stride }) as const;
const flex = (offset: number, stride: number) => ({ offset, size: 0, stride }) as const;

export const X86RegsLayout = {
  struct: 'kvm_regs',
  size: 144,
  fields: {
    rax: u64(0), rbx: u64(8), rcx: u64(16), rdx: u64(24),
    rsi: u64(32), rdi: u64(40), rsp: u64(48), rbp: u64(56),
    r8: u64(64), r9: u64(72), r10: u64(80), r11: u64(88),
    r12: u64(96), r13: u64(104), r14: u64(112), r15: u64(120),
    rip: u64(128), rflags: u64(136),
  },
} as const satisfies AbiStruct;

export const X86SegmentLayout = {
  struct: 'kvm_segment',
  size: 24,
  fields: {
    base: u64(0), limit: u32(8), selector: u16(12), type: u8(14), present: u8(15),
    dpl: u8(16), db: u8(17), s: u8(18), l: u8(19), g: u8(20), avl: u8(21),
    unusable: u8(22), padding: u8(23),
  },
} as const satisfies AbiStruct;

export const X86DtableLayout = {
  struct: 'kvm_dtable',
  size: 16,
  fields: { base: u64(0), limit: u16(8), padding: arr(10, 3, 2) },
} as const satisfies AbiStruct;

const SEG = X86SegmentLayout.size;
const DT = X86DtableLayout.size;
/** cs..idt are laid out identically in kvm_sregs and kvm_sregs2. */
const sregsCommon = {
  cs: { offset: 0 * SEG, size: SEG }, ds: { offset: 1 * SEG, size: SEG },
  es: { offset: 2 * SEG, size: SEG }, fs: { offset: 3 * SEG, size: SEG },
  gs: { offset: 4 * SEG, size: SEG }, ss: { offset: 5 * SEG, size: SEG },
  tr: { offset: 6 * SEG, size: SEG }, ldt: { offset: 7 * SEG, size: SEG },
  gdt: { offset: 8 * SEG, size: DT }, idt: { offset: 8 * SEG + DT, size: DT },
  cr0: u64(224), cr2: u64(232), cr3: u64(240), cr4: u64(248), cr8: u64(256),
  efer: u64(264), apic_base: u64(272),
} as const;

export const X86SregsLayout = {
  struct: 'kvm_sregs',
  size: 312,
  fields: { ...sregsCommon, interrupt_bitmap: arr(280, 4, 8) },
} as const satisfies AbiStruct;

export const X86Sregs2Layout = {
  struct: 'kvm_sregs2',
  size: 320,
  fields: { ...sregsCommon, flags: u64(280), pdptrs: arr(288, 4, 8) },
} as const satisfies AbiStruct;

export const X86FpuLayout = {
  struct: 'kvm_fpu',
  size: 416,
  fields: {
    fpr: arr(0, 8, 16), fcw: u16(128), fsw: u16(130), ftwx: u8(132), pad1: u8(133),
    last_opcode: u16(134), last_ip: u64(136), last_dp: u64(144), xmm: arr(152, 16, 16),
    mxcsr: u32(408), pad2: u32(412),
  },
} as const satisfies AbiStruct;

/** Fixed 4096-byte part; KVM_GET_XSAVE2 may copy KVM_CAP_XSAVE2 bytes (`extra` follows). */
export const X86XsaveLayout = {
  struct: 'kvm_xsave',
  size: 4096,
  fields: { region: arr(0, 1024, 4), extra: flex(4096, 4) },
} as const satisfies AbiStruct;

export const X86XcrLayout = {
  struct: 'kvm_xcr',
  size: 16,
  fields: { xcr: u32(0), reserved: u32(4), value: u64(8) },
} as const satisfies AbiStruct;

export const X86XcrsLayout = {
  struct: 'kvm_xcrs',
  size: 392,
  fields: { nr_xcrs: u32(0), flags: u32(4), xcrs: arr(8, 16, 16), padding: arr(264, 16, 8) },
} as const satisfies AbiStruct;

export const X86DebugregsLayout = {
  struct: 'kvm_debugregs',
  size: 128,
  fields: { db: arr(0, 4, 8), dr6: u64(32), dr7: u64(40), flags: u64(48), reserved: arr(56, 9, 8) },
} as const satisfies AbiStruct;

export const X86MsrEntryLayout = {
  struct: 'kvm_msr_entry',
  size: 16,
  fields: { index: u32(0), reserved: u32(4), data: u64(8) },
} as const satisfies AbiStruct;

/** Header only: `entries` is a flexible array of kvm_msr_entry (8 + 16·n bytes in all). */
export const X86MsrsLayout = {
  struct: 'kvm_msrs',
  size: 8,
  fields: { nmsrs: u32(0), pad: u32(4), entries: flex(8, 16) },
} as const satisfies AbiStruct;

/** Header only: `indices` is a flexible array of u32 (4 + 4·n bytes in all). */
export const X86MsrListLayout = {
  struct: 'kvm_msr_list',
  size: 4,
  fields: { nmsrs: u32(0), indices: flex(4, 4) },
} as const satisfies AbiStruct;

export const X86CpuidEntry2Layout = {
  struct: 'kvm_cpuid_entry2',
  size: 40,
  fields: {
    function: u32(0), index: u32(4), flags: u32(8), eax: u32(12), ebx: u32(16),
    ecx: u32(20), edx: u32(24), padding: arr(28, 3, 4),
  },
} as const satisfies AbiStruct;

/** Header only: `entries` is a flexible array of kvm_cpuid_entry2 (8 + 40·n bytes in all). */
export const X86Cpuid2Layout = {
  struct: 'kvm_cpuid2',
  size: 8,
  fields: { nent: u32(0), padding: u32(4), entries: flex(8, 40) },
} as const satisfies AbiStruct;

export const X86VcpuEventsLayout = {
  struct: 'kvm_vcpu_events',
  size: 64,
  fields: {
    'exception.injected': u8(0), 'exception.nr': u8(1), 'exception.has_error_code': u8(2),
    'exception.pending': u8(3), 'exception.error_code': u32(4),
    'interrupt.injected': u8(8), 'interrupt.nr': u8(9), 'interrupt.soft': u8(10), 'interrupt.shadow': u8(11),
    'nmi.injected': u8(12), 'nmi.pending': u8(13), 'nmi.masked': u8(14), 'nmi.pad': u8(15),
    sipi_vector: u32(16), flags: u32(20),
    'smi.smm': u8(24), 'smi.pending': u8(25), 'smi.smm_inside_nmi': u8(26), 'smi.latched_init': u8(27),
    'triple_fault.pending': u8(28), reserved: arr(29, 26, 1),
    exception_has_payload: u8(55), exception_payload: u64(56),
  },
} as const satisfies AbiStruct;

/** The first 0x400 bytes of the xAPIC register page; 32-bit registers at a 16-byte stride. */
export const X86LapicStateLayout = {
  struct: 'kvm_lapic_state',
  size: 1024,
  fields: { regs: arr(0, 1024, 1) },
} as const satisfies AbiStruct;

export const X86GuestDebugLayout = {
  struct: 'kvm_guest_debug',
  size: 72,
  fields: { control: u32(0), pad: u32(4), 'arch.debugreg': arr(8, 8, 8) },
} as const satisfies AbiStruct;

export const X86TranslationLayout = {
  struct: 'kvm_translation',
  size: 24,
  fields: {
    linear_address: u64(0), physical_address: u64(8), valid: u8(16), writeable: u8(17),
    usermode: u8(18), pad: arr(19, 5, 1),
  },
} as const satisfies AbiStruct;

export const X86InterruptLayout = {
  struct: 'kvm_interrupt',
  size: 4,
  fields: { irq: u32(0) },
} as const satisfies AbiStruct;

export const X86ClockDataLayout = {
  struct: 'kvm_clock_data',
  size: 48,
  fields: {
    clock: u64(0), flags: u32(8), pad0: u32(12), realtime: u64(16), host_tsc: u64(24), pad: arr(32, 4, 4),
  },
} as const satisfies AbiStruct;

export const X86PitConfigLayout = {
  struct: 'kvm_pit_config',
  size: 64,
  fields: { flags: u32(0), pad: arr(4, 15, 4) },
} as const satisfies AbiStruct;

export const X86PitChannelStateLayout = {
  struct: 'kvm_pit_channel_state',
  size: 24,
  fields: {
    count: u32(0), latched_count: u16(4), count_latched: u8(6), status_latched: u8(7),
    status: u8(8), read_state: u8(9), write_state: u8(10), write_latch: u8(11),
    rw_mode: u8(12), mode: u8(13), bcd: u8(14), gate: u8(15), count_load_time: u64(16),
  },
} as const satisfies AbiStruct;

export const X86PitState2Layout = {
  struct: 'kvm_pit_state2',
  size: 112,
  fields: { channels: arr(0, 3, 24), flags: u32(72), reserved: arr(76, 9, 4) },
} as const satisfies AbiStruct;

/** One 8259 of the in-kernel PIC (kvm_irqchip.chip for PIC_MASTER / PIC_SLAVE). */
export const X86PicStateLayout = {
  struct: 'kvm_pic_state',
  size: 16,
  fields: {
    /** The level of each input line as last driven (edge detection memory): bit n = IRQ n. */
    last_irr: u8(0), irr: u8(1), imr: u8(2), isr: u8(3), priority_add: u8(4), irq_base: u8(5),
    read_reg_select: u8(6), poll: u8(7), special_mask: u8(8), init_state: u8(9), auto_eoi: u8(10),
    rotate_on_auto_eoi: u8(11), special_fully_nested_mode: u8(12), init4: u8(13), elcr: u8(14), elcr_mask: u8(15),
  },
} as const satisfies AbiStruct;

/** `chip` is a 512-byte union (PIC or IOAPIC state, selected by chip_id). */
export const X86IrqchipLayout = {
  struct: 'kvm_irqchip',
  size: 520,
  fields: { chip_id: u32(0), pad: u32(4), chip: { offset: 8, size: 512 } },
} as const satisfies AbiStruct;

export const X86MsrFilterRangeLayout = {
  struct: 'kvm_msr_filter_range',
  size: 24,
  fields: { flags: u32(0), nmsrs: u32(4), base: u32(8), bitmap: u64(16) },
} as const satisfies AbiStruct;

export const X86MsrFilterLayout = {
  struct: 'kvm_msr_filter',
  size: 392,
  fields: { flags: u32(0), ranges: arr(8, 16, 24) },
} as const satisfies AbiStruct;

/** Header only: `data` holds the VMX/SVM blob (total length in `size`). */
export const X86NestedStateLayout = {
  struct: 'kvm_nested_state',
  size: 128,
  fields: { flags: u16(0), format: u16(2), size: u32(4), hdr: { offset: 8, size: 120 }, 'data.vmx': flex(128, 8192) },
} as const satisfies AbiStruct;

/** kvm_run.s.regs on x86 (KVM_CAP_SYNC_REGS); offsets relative to kvm_run.s. */
export const X86SyncRegsLayout = {
  struct: 'kvm_sync_regs',
  size: 520,
  fields: { regs: { offset: 0, size: 144 }, sregs: { offset: 144, size: 312 }, events: { offset: 456, size: 64 } },
} as const satisfies AbiStruct;

/** The x86-specific members of kvm_run (the generic ones are core's KvmRunLayout). */
export const X86KvmRunLayout = {
  struct: 'kvm_run',
  size: 2352,
  fields: {
    'debug.arch.exception': u32(32), 'debug.arch.pad': u32(36), 'debug.arch.pc': u64(40),
    'debug.arch.dr6': u64(48), 'debug.arch.dr7': u64(56),
    's.regs': { offset: 304, size: 520 },
  },
} as const satisfies AbiStruct;

/** Every x86 layout table, for the ABI test and for tools that dump layouts. */
export const X86Layouts = [
  X86RegsLayout, X86SegmentLayout, X86DtableLayout, X86SregsLayout, X86Sregs2Layout, X86FpuLayout,
  X86XsaveLayout, X86XcrLayout, X86XcrsLayout, X86DebugregsLayout, X86MsrEntryLayout, X86MsrsLayout,
  X86MsrListLayout, X86CpuidEntry2Layout, X86Cpuid2Layout, X86VcpuEventsLayout, X86LapicStateLayout,
  X86GuestDebugLayout, X86TranslationLayout, X86InterruptLayout, X86ClockDataLayout, X86PitConfigLayout,
  X86PitChannelStateLayout, X86PitState2Layout, X86PicStateLayout, X86IrqchipLayout, X86MsrFilterRangeLayout,
  X86MsrFilterLayout, X86NestedStateLayout, X86SyncRegsLayout, X86KvmRunLayout,
] as const satisfies readonly AbiStruct[];
