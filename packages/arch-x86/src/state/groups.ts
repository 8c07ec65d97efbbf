/**
 * The state groups of an x86 vCPU: one KVM_GET/KVM_SET ioctl pair each, and the unit of lazy
 * sync (each vCPU ioctl costs a few microseconds, so X86KvmCPU pulls a group only when it is
 * read and pushes it only when it changed). The orders are Firecracker's save and restore
 * orders (x86-64.md §11).
 */

/** Every group, each a field of X86ThreadContext (docs/architecture.md lists their ioctls). */
export const X86_STATE_GROUPS = ['cpuid', 'mpState', 'regs', 'sregs', 'xsave', 'xcrs', 'debugRegs', 'lapic', 'msrs', 'events'] as const;
export type X86StateGroup = (typeof X86_STATE_GROUPS)[number];

/**
 * Pull order for a full sync: MP_STATE first, because KVM_GET_MP_STATE makes KVM accept a
 * pending INIT/SIPI, which rewrites registers; VCPU_EVENTS last.
 */
export const X86_PULL_ORDER: readonly X86StateGroup[] = ['mpState', 'regs', 'sregs', 'xsave', 'xcrs', 'debugRegs', 'lapic', 'cpuid', 'msrs', 'events'];

/**
 * Push order: CPUID first (KVM derives MSR, XSAVE and LAPIC behaviour from it); REGS before
 * SREGS; the LAPIC after SREGS (which sets APIC_BASE) and before the MSRs (TSC_DEADLINE only
 * sticks in TSC-deadline mode); VCPU_EVENTS last, since KVM_SET_REGS clears a pending exception.
 */
export const X86_PUSH_ORDER: readonly X86StateGroup[] = ['cpuid', 'mpState', 'regs', 'sregs', 'xsave', 'xcrs', 'debugRegs', 'lapic', 'msrs', 'events'];

/** Bit of each group in the CPU's valid/dirty masks. */
export const GROUP_BIT = Object.fromEntries(X86_STATE_GROUPS.map((g, i) => [g, 1 << i])) as Readonly<Record<X86StateGroup, number>>;

export const ALL_GROUPS = (1 << X86_STATE_GROUPS.length) - 1;
