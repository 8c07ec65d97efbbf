/** The result shape shared by the mode builders: what to write into guest memory and into the vCPU. */
import type { SegmentFields } from './segment';

/** Bytes to copy into guest memory at a guest-physical address. */
export interface MemoryWrite {
  readonly gpa: number;
  readonly bytes: Uint8Array;
  /** What the bytes are ('GDT and TSS', 'page tables'), for a loader's overlap messages. */
  readonly name?: string;
}

/** `struct kvm_dtable`: GDTR / IDTR. */
export interface DescriptorTableFields {
  base: bigint;
  limit: number;
}

/**
 * The special registers a mode needs. Everything else in `kvm_sregs` (cr2, cr8, apic_base, the
 * interrupt bitmap) keeps the value KVM_GET_SREGS returned: merge this over it.
 */
export interface ModeSregs {
  cs: SegmentFields;
  ds: SegmentFields;
  es: SegmentFields;
  fs: SegmentFields;
  gs: SegmentFields;
  ss: SegmentFields;
  tr: SegmentFields;
  ldt: SegmentFields;
  gdt: DescriptorTableFields;
  idt: DescriptorTableFields;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
}

/** The general registers a mode sets; all others are left as they are (zero after reset). */
export interface ModeRegs {
  rip: bigint;
  rsp: bigint;
  rflags: bigint;
}

export interface ModeSetup {
  readonly memoryWrites: readonly MemoryWrite[];
  readonly sregs: ModeSregs;
  readonly regs: ModeRegs;
}
