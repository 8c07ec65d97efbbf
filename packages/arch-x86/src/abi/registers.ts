/**
 * x86 register lists as data, in KVM struct order, shared by the codecs, get/set helpers
 * and state dumps so no register list is written twice.
 */

/** General-purpose registers plus rip/rflags, in `struct kvm_regs` order. */
export const X86_GPR_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags',
] as const;
export type X86GprName = (typeof X86_GPR_NAMES)[number];

/** Segment registers in `struct kvm_sregs` order. */
export const X86_SEGMENT_NAMES = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
export type X86SegmentName = (typeof X86_SEGMENT_NAMES)[number];

/** Descriptor-table registers in `struct kvm_sregs` order. */
export const X86_DTABLE_NAMES = ['gdt', 'idt'] as const;
export type X86DtableName = (typeof X86_DTABLE_NAMES)[number];

/**
 * 64-bit special registers of `struct kvm_sregs`: TypeScript property → C member.
 * (apic_base is the only one whose spelling differs.)
 */
export const X86_SREGS_U64 = [
  { name: 'cr0', member: 'cr0' },
  { name: 'cr2', member: 'cr2' },
  { name: 'cr3', member: 'cr3' },
  { name: 'cr4', member: 'cr4' },
  { name: 'cr8', member: 'cr8' },
  { name: 'efer', member: 'efer' },
  { name: 'apicBase', member: 'apic_base' },
] as const;
export type X86SregsU64Name = (typeof X86_SREGS_U64)[number]['name'];

/** The one-byte attribute members of `struct kvm_segment`, in struct order. */
export const X86_SEGMENT_ATTR_NAMES = ['type', 'present', 'dpl', 'db', 's', 'l', 'g', 'avl', 'unusable'] as const;
export type X86SegmentAttrName = (typeof X86_SEGMENT_ATTR_NAMES)[number];

/** Words in kvm_sregs.interrupt_bitmap (256 vectors / 64). */
export const X86_INTERRUPT_BITMAP_WORDS = 4;
