/**
 * The few raw KVM facts the native tests need (the real tables live in @kvmts/core). The gate
 * for *.kvm.test.ts is the shared global `describeKvm` (test-support/kvm-gate.js).
 */
export const KVM = {
  GET_API_VERSION: 0xae00,
  CREATE_VM: 0xae01,
  CHECK_EXTENSION: 0xae03,
  GET_VCPU_MMAP_SIZE: 0xae04,
  CREATE_VCPU: 0xae41,
  SET_USER_MEMORY_REGION: 0x4020ae46,
  API_VERSION: 12,
  CAP_USER_MEMORY: 3,
  /** struct kvm_userspace_memory_region: u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr. */
  MEMORY_REGION_SIZE: 32,
  /** kvm_run.immediate_exit (u8 at offset 1, after request_interrupt_window). */
  RUN_IMMEDIATE_EXIT: 1,
} as const;

export function memoryRegion(slot: number, guestPhys: bigint, size: bigint, userAddr: bigint): Uint8Array {
  const bytes = new Uint8Array(KVM.MEMORY_REGION_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, slot, true);
  dv.setUint32(4, 0, true);
  dv.setBigUint64(8, guestPhys, true);
  dv.setBigUint64(16, size, true);
  dv.setBigUint64(24, userAddr, true);
  return bytes;
}
